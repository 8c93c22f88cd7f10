#include "sweeps/spec.h"

namespace mammosweep::sweeps {

const char* to_string(Method m) {
  switch (m) {
    case Method::grid: return "grid";
    case Method::random: return "random";
    case Method::variants: return "variants";
  }
  return "?";
}

}  // namespace mammosweep::sweeps
