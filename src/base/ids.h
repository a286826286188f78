// Identifiers: request ids (UUID v4), random tokens. Thread-safe.
#pragma once

#include <string>

namespace nubo {

// A random UUID v4, lower case, "8-4-4-4-12".
std::string new_uuid();
// n random bytes as 2n lower-case hex characters.
std::string random_hex(size_t n_bytes);

}  // namespace nubo
