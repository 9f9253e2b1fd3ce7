# Install-time script (install(CODE) in cmake/MixtrainInstall.cmake): copies every header of the
# library's source tree to <prefix>/include/mixtrain/<layer>/..., rewriting its includes of other
# layers from "tensor/tensor.h" to "mixtrain/tensor/tensor.h". In the source tree the headers name
# each other relative to src/ (each layer compiles against its own include root); installed, the
# consumer only puts <prefix>/include on its path, so generic names such as io/ or data/ cannot
# clash with the consumer's own headers. The rewrite happens here, on copies, so the sources keep
# their short names.
#
# Inputs: MIXTRAIN_SOURCE_DIR (src/), MIXTRAIN_STAGING_DIR (a scratch folder in the build tree),
# MIXTRAIN_INCLUDE_DESTINATION (relative to the install prefix, usually "include").

file(GLOB layers LIST_DIRECTORIES true RELATIVE "${MIXTRAIN_SOURCE_DIR}" "${MIXTRAIN_SOURCE_DIR}/*")
set(layer_dirs "")
foreach(entry ${layers})
  if(IS_DIRECTORY "${MIXTRAIN_SOURCE_DIR}/${entry}")
    list(APPEND layer_dirs "${entry}")
  endif()
endforeach()
list(JOIN layer_dirs "|" layer_alternatives)

file(GLOB_RECURSE headers RELATIVE "${MIXTRAIN_SOURCE_DIR}" "${MIXTRAIN_SOURCE_DIR}/*.h")
file(REMOVE_RECURSE "${MIXTRAIN_STAGING_DIR}")
foreach(header ${headers})
  file(READ "${MIXTRAIN_SOURCE_DIR}/${header}" text)
  string(REGEX REPLACE "#include \"(${layer_alternatives})/" "#include \"mixtrain/\\1/" text "${text}")
  file(WRITE "${MIXTRAIN_STAGING_DIR}/${header}" "${text}")
endforeach()

# file(INSTALL) honours DESTDIR and records every file in install_manifest.txt.
if(IS_ABSOLUTE "${MIXTRAIN_INCLUDE_DESTINATION}")
  set(destination "${MIXTRAIN_INCLUDE_DESTINATION}/mixtrain")
else()
  set(destination "${CMAKE_INSTALL_PREFIX}/${MIXTRAIN_INCLUDE_DESTINATION}/mixtrain")
endif()
file(INSTALL DESTINATION "${destination}" TYPE DIRECTORY FILES "${MIXTRAIN_STAGING_DIR}/"
     FILES_MATCHING PATTERN "*.h")
