/* Preloaded by `scripts/test --sanitize`: dlclose does nothing, so every shared object stays
 * loaded until the process exits. LeakSanitizer reports at exit; without this, the frames of
 * a library unloaded before then (Open MPI's components, closed in MPI_Finalize) print as
 * "<unknown module>" and no suppression in fuzz/lsan.supp can name them
 * (docs/reliability.md, "Sanitizers"). */
int dlclose(void* handle) {
  (void)handle;
  return 0;
}
