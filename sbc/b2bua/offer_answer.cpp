#include "sbc/b2bua/offer_answer.hpp"

#include <random>

namespace sbc::b2bua {

unsigned offer_retry_after() noexcept {
    static std::minstd_rand rng{std::random_device{}()};
    return static_cast<unsigned>(rng() % 11);
}

}  // namespace sbc::b2bua
