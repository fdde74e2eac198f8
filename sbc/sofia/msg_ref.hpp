// The only way the code holds a sofia msg_t: a counted reference.
//
// nta hands out msg_t with one reference taken for the caller
// (nta_incoming_getrequest, nta_outgoing_getresponse); msg_ref drops it with
// msg_destroy when it goes out of scope and takes another with msg_ref_create
// on copy, so no reference is ever managed by hand.
#pragma once

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_protos.h>

#include <utility>

namespace sbc::sofia {

class msg_ref {
public:
    msg_ref() = default;
    /// Adopts a reference the caller already owns.
    static msg_ref adopt(msg_t* m) noexcept { return msg_ref(m); }

    msg_ref(const msg_ref& o) noexcept : _m(o._m ? msg_ref_create(o._m) : nullptr) {}
    msg_ref(msg_ref&& o) noexcept : _m(std::exchange(o._m, nullptr)) {}
    msg_ref& operator=(msg_ref o) noexcept {
        std::swap(_m, o._m);
        return *this;
    }
    ~msg_ref() {
        if (_m != nullptr) {
            msg_destroy(_m);
        }
    }

    msg_t* get() const noexcept { return _m; }
    sip_t* sip() const noexcept { return _m ? sip_object(_m) : nullptr; }
    explicit operator bool() const noexcept { return _m != nullptr; }

private:
    explicit msg_ref(msg_t* m) noexcept : _m(m) {}
    msg_t* _m = nullptr;
};

}  // namespace sbc::sofia
