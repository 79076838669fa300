// FdWaiter: a one-shot "wake me when this fd is readable" on libuv's loop (uv_poll_t), so an idle
// poll loop can sleep without spinning and still wake within one event-loop turn of a frame
// arriving. One JS callback per wake-up, never per packet: after firing, the waiter disarms
// itself, and the poll loop re-arms it only when it goes back to sleep (while busy-polling the
// fd stays out of epoll, so a steady stream costs no epoll_ctl per burst).

#include "sluice.h"

#include <uv.h>

namespace sluice {

namespace {

class FdWaiter : public Napi::ObjectWrap<FdWaiter> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWaiter",
                       {InstanceMethod<&FdWaiter::Arm>("arm"),
                        InstanceMethod<&FdWaiter::Disarm>("disarm"),
                        InstanceMethod<&FdWaiter::Close>("close")});
  }

  // new FdWaiter(fd, callback(status))
  explicit FdWaiter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWaiter>(info) {
    Napi::Env env = info.Env();
    int64_t fd;
    if (!ArgInt(info, 0, "fd", 0, INT32_MAX, &fd)) return;
    if (info.Length() < 2 || !info[1].IsFunction()) {
      ThrowArg(env, "argument 'callback' must be a function");
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      ThrowArg(env, "no libuv loop for this environment");
      return;
    }
    // The handle lives on the heap: libuv may touch it until uv_close's callback runs, which can
    // be after this wrapper is garbage collected.
    handle_ = new uv_poll_t;
    int rc = uv_poll_init(loop, handle_, static_cast<int>(fd));
    if (rc != 0) {
      delete handle_;
      handle_ = nullptr;
      ThrowUv(env, kErrTapIo, "uv_poll_init", rc);
      return;
    }
    handle_->data = this;
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = new Napi::AsyncContext(env, "SluiceFdWaiter");
  }

  ~FdWaiter() override {
    CloseHandle();
    delete context_;
  }

 private:
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (handle_ == nullptr) {
      ThrowArg(env, "FdWaiter is closed");
      return env.Undefined();
    }
    if (!armed_) {
      int rc = uv_poll_start(handle_, UV_READABLE, OnPoll);
      if (rc != 0) {
        ThrowUv(env, kErrTapIo, "uv_poll_start", rc);
        return env.Undefined();
      }
      armed_ = true;
      Ref();  // an armed waiter must outlive its JS references until it fires or is disarmed
    }
    return env.Undefined();
  }

  Napi::Value Disarm(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseHandle();
    return info.Env().Undefined();
  }

  void Stop() {
    if (armed_ && handle_ != nullptr) {
      uv_poll_stop(handle_);
      armed_ = false;
      Unref();
    }
  }

  void CloseHandle() {
    Stop();
    if (handle_ != nullptr) {
      handle_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(handle_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      handle_ = nullptr;
    }
  }

  static void OnPoll(uv_poll_t* handle, int status, int /*events*/) {
    FdWaiter* self = static_cast<FdWaiter*>(handle->data);
    if (self == nullptr) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    // One-shot: keep the wrapper alive across the callback, then drop the armed reference.
    self->Ref();
    self->Stop();
    self->callback_.MakeCallback(env.Global(), {Napi::Number::New(env, status)}, *self->context_);
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
    self->Unref();
  }

  uv_poll_t* handle_ = nullptr;
  bool armed_ = false;
  Napi::FunctionReference callback_;
  Napi::AsyncContext* context_ = nullptr;
};

}  // namespace

void InitWaiter(Napi::Env env, Napi::Object exports) {
  exports.Set("FdWaiter", FdWaiter::Define(env));
}

}  // namespace sluice
