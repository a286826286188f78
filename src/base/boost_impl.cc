// The compiled parts of the header-only Boost libraries nubo uses, built once here.
#include <boost/json/src.hpp>  // NOLINT
#include <boost/url/src.hpp>   // NOLINT
