// An owned nta leg (nta_leg_t): one dialog of ours (RFC 3261 12), or a leg
// made with NTATAG_NO_DIALOG that takes the requests outside every dialog.
//
// Requests arriving on the leg go to the dialog_handler its owner gives it,
// as server transactions the handler owns. nta's magic pointer points to a
// slot the leg owns on the heap, never to the leg object or its owner, so:
// - moving the leg (into a dialog value, from one operation to another)
//   leaves nta's pointer valid and the same handler receiving;
// - handing the dialog over to another owner is a move plus set_handler()
//   with the new owner's handler, no nta call; and
// - a handler may destroy the leg from inside its own callback (a BYE
//   ending the call): the slot outlives the callback.
// Destroying the leg destroys the nta leg: requests of the dialog that
// arrive afterwards match no leg and reach the agent's default leg or
// message callback like any request outside a dialog, where a to-tag that
// names no dialog of ours earns a 481 (RFC 3261 12.2.2).
// Control thread only.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "sbc/sofia/callback_slot.hpp"
#include "sbc/sofia/nta.hpp"

namespace sbc::sofia {

class server_transaction;

/// Requests inside a leg's dialog, for the leg's owner.
class dialog_handler {
public:
    /// `request` belongs to the handler: it answers it now, moves it out to
    /// answer later, or leaves it, and it is answered 500 (an ACK is never
    /// answered). Returning a status >= 100 answers the request with it when
    /// it is still in `request` and unanswered; return 0 otherwise. A 2xx
    /// for an INVITE must be sent with request.reply(), not returned.
    virtual int on_request(server_transaction& request, const sip_t* sip) = 0;

protected:
    ~dialog_handler() = default;
};

class leg {
public:
    leg() = default;
    leg(leg&& o) noexcept : _slot(std::move(o._slot)), _leg(std::exchange(o._leg, nullptr)) {}
    leg& operator=(leg&& o) noexcept;
    ~leg();

    /// nta_leg_tcreate() on `agent` with `tags` (no TAG_END()), e.g. the
    /// Call-ID, From and To of a dialog, or NTATAG_NO_DIALOG(1). Empty when
    /// nta refuses (check operator bool). `handler` must outlive the leg or
    /// be replaced with set_handler() before it goes.
    template <typename... Tags>
    static leg create(nta_agent_t* agent, dialog_handler& handler, Tags... tags) {
        leg l(handler);
        l._leg = nta_leg_tcreate(agent, leg_trampoline, l.magic(), tags..., TAG_END());
        if (l._leg == nullptr) {
            l._slot.reset();
        }
        return l;
    }
    /// Takes over a leg made elsewhere, and binds it to `handler`.
    static leg adopt(nta_leg_t* raw, dialog_handler& handler);

    nta_leg_t* get() const noexcept { return _leg; }
    explicit operator bool() const noexcept { return _leg != nullptr; }

    /// Requests go to `handler` from now on (a handed-over dialog's new owner).
    void set_handler(dialog_handler& handler) noexcept;
    /// Gives the nta leg up, unbound: nta answers its requests itself until
    /// the new owner binds it (nta_leg_bind) or destroys it.
    nta_leg_t* release() noexcept;

    /// The handler of a leg made or adopted by a sofia::leg (a dialog found
    /// by nta_leg_by_replaces(), say); null for any other leg.
    static dialog_handler* handler_of(nta_leg_t* raw) noexcept;

    /// Our tag (RFC 3261 19.3), making a new one when `tag` is null and the
    /// leg has none. False when nta refused (a different tag was set).
    bool set_tag(const char* tag = nullptr) noexcept;
    /// The peer's tag, from the response that made the dialog (RFC 3261 12.1.2).
    void set_remote_tag(const char* tag) noexcept;
    std::string tag() const;
    std::string remote_tag() const;
    /// Route set and remote target from a request we answer (RFC 3261
    /// 12.1.1) or a response to our request (12.1.2).
    void route_from_request(const sip_t* request) noexcept;
    void route_from_response(const sip_t* response) noexcept;
    /// The remote target (sofia::remote_target()); "" when there is none yet.
    std::string remote_target() const;

private:
    class slot;
    slot* the_slot() const noexcept;
    explicit leg(dialog_handler& handler);
    leg_handler* magic() const noexcept;
    void reset() noexcept;

    detail::slot_ptr _slot;
    nta_leg_t* _leg = nullptr;
};

}  // namespace sbc::sofia
