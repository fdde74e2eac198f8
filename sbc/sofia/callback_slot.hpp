// Where nta's magic pointer points for the owned handles (sofia::leg,
// server_transaction, client_transaction).
//
// nta keeps the magic pointer it was given until the handle is destroyed, so
// it cannot point into a handle that moves. Each handle owns a slot on the
// heap instead, at an address that never changes, and moving the handle
// moves only the pointer to it. An owner may destroy its handle from inside a
// callback that came through the slot (a final response ends the operation
// that sent the request, a BYE ends the call whose leg it arrived on); the
// slot then lives on until that callback has returned, and is freed there.
// Control thread only, as every nta call.
#pragma once

#include <memory>

namespace sbc::sofia::detail {

class callback_slot {
public:
    callback_slot() = default;
    callback_slot(const callback_slot&) = delete;
    callback_slot& operator=(const callback_slot&) = delete;

    /// Held while a callback runs through the slot; frees the slot on the
    /// way out when its handle was destroyed meanwhile.
    class running {
    public:
        explicit running(callback_slot& s) noexcept : _slot(s) { ++_slot._depth; }
        ~running() {
            if (--_slot._depth == 0 && _slot._retired) {
                delete &_slot;
            }
        }
        running(const running&) = delete;
        running& operator=(const running&) = delete;

    private:
        callback_slot& _slot;
    };

    /// The handle is gone: free the slot now, or when the callback running
    /// through it returns. Callbacks must check retired() before calling out.
    void retire() noexcept {
        if (_depth == 0) {
            delete this;
        } else {
            _retired = true;
        }
    }
    bool retired() const noexcept { return _retired; }

protected:
    virtual ~callback_slot() = default;

private:
    unsigned _depth = 0;
    bool _retired = false;
};

/// The deleter of a handle's std::unique_ptr to its slot.
struct retire_slot {
    void operator()(callback_slot* s) const noexcept {
        if (s != nullptr) {
            s->retire();
        }
    }
};

/// How a handle holds its slot: through the base, so that the slot's own
/// type can stay in the handle's .cpp.
using slot_ptr = std::unique_ptr<callback_slot, retire_slot>;

}  // namespace sbc::sofia::detail
