# mixtrain as an installable package (`cmake --install BUILD --prefix PREFIX`):
#   PREFIX/include/mixtrain/<layer>/*.h   every header, includes rewritten to "mixtrain/..."
#                                         (cmake/InstallHeaders.cmake), and mixtrain/version.h
#   PREFIX/lib/libmixtrain_<layer>.a      the layer libraries (src/CMakeLists.txt)
#   PREFIX/lib/cmake/mixtrain/            mixtrainConfig.cmake, mixtrainConfigVersion.cmake and
#                                         the exported targets: mixtrain::mixtrain links them all
#   PREFIX/bin/mixtrain                   the command-line tool
# A consumer writes find_package(mixtrain CONFIG REQUIRED), target_link_libraries(app
# mixtrain::mixtrain) and #include <mixtrain/nn/mlp.h> (tests/consumer/ does exactly that).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MIXTRAIN_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/mixtrain)

# The layer libraries are exported as mixtrain::<layer> (mixtrain::runtime ... mixtrain::train).
set(exported_layers "")
foreach(target ${MIXTRAIN_LAYER_TARGETS})
  string(REGEX REPLACE "^mixtrain_" "" layer ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${layer})
  list(APPEND exported_layers ${target})
endforeach()

# The umbrella target of the installed package. The in-tree `mixtrain` target puts src/ itself on
# the include path (front ends use the short names); the installed one puts PREFIX/include there
# and asks for C++20, which the headers need.
add_library(mixtrain_package INTERFACE)
set_target_properties(mixtrain_package PROPERTIES EXPORT_NAME mixtrain)
target_include_directories(mixtrain_package INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(mixtrain_package INTERFACE cxx_std_20)
target_link_libraries(mixtrain_package INTERFACE mixtrain_train)

install(TARGETS ${exported_layers} mixtrain_package EXPORT mixtrainTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT mixtrainTargets NAMESPACE mixtrain:: DESTINATION ${MIXTRAIN_CMAKE_INSTALL_DIR})
install(TARGETS mixtrain_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Whether the package must find MPI for its consumers (src/CMakeLists.txt, MIXTRAIN_MPI).
if(MIXTRAIN_MPI)
  set(MIXTRAIN_PACKAGE_MPI ON)
else()
  set(MIXTRAIN_PACKAGE_MPI OFF)
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/mixtrainConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/mixtrainConfig.cmake
                              INSTALL_DESTINATION ${MIXTRAIN_CMAKE_INSTALL_DIR})
# 0.x: a minor version may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mixtrainConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mixtrainConfig.cmake ${PROJECT_BINARY_DIR}/mixtrainConfigVersion.cmake
        DESTINATION ${MIXTRAIN_CMAKE_INSTALL_DIR})

install(FILES ${PROJECT_BINARY_DIR}/include/mixtrain/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/mixtrain)
install(CODE "set(MIXTRAIN_SOURCE_DIR \"${PROJECT_SOURCE_DIR}/src\")
set(MIXTRAIN_STAGING_DIR \"${PROJECT_BINARY_DIR}/installed_headers\")
set(MIXTRAIN_INCLUDE_DESTINATION \"${CMAKE_INSTALL_INCLUDEDIR}\")
include(\"${CMAKE_CURRENT_LIST_DIR}/InstallHeaders.cmake\")")
