// Entry point of the `mixtrain` tool: builds the CLI11 app from the subcommands and maps every
// error to one line on stderr and a non-zero exit status.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  CLI::App app{"mixtrain: mixed-precision training engine"};
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "mixtrain: %s\n", e.what());
    return 2;
  }
  return 0;
}
