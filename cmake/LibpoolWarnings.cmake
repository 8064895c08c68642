# One interface target carries the project's warning flags; every target links it privately.
add_library(libpool_warnings INTERFACE)
target_compile_options(libpool_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  $<$<BOOL:${LIBPOOL_WERROR}>:-Werror>)
