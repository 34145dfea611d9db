// A library a test loads with dlopen after it started, built twice (PLUGIN_BIAS 0 and 1)
// to stand for one library before and after a rebuild.
extern "C" __attribute__((visibility("default"))) int weft_plugin_triple(int x) {
  return 3 * x + PLUGIN_BIAS;
}
