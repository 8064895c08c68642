/* Preloaded into the asan preset's tests (CMakePresets.json, LD_PRELOAD): makes dlclose a no-op.
 * Open MPI unloads its components in MPI_Finalize, and LeakSanitizer, which reports at exit, can
 * then no longer name the component that leaked: its frames show as unknown modules that no
 * suppression can match. With every library still mapped, lsan.supp names them. */
#include <stddef.h>

int dlclose(void* handle) {
  (void)handle;
  return 0;
}
