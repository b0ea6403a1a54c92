// Elementwise kernels: bias + activation, the activation gradient, and the optimizer steps
// (Keras 3's SGD, Adam and RMSprop rules, the same float operations in the same order as the CPU's
// optimizers_f32_impl.h). One thread per value.
#include <cmath>

#include "cuda/activation.cuh"
#include "cuda/launch.h"

namespace foveal::cuda {
namespace {

struct BiasAct {
  size_t c;
  const float* x;
  const float* bias;
  float* y;
  Activation act;
  FOVEAL_HD void operator()(size_t i) const { y[i] = activate(act, bias ? x[i] + bias[i % c] : x[i]); }
};

struct ActGrad {
  const float* dy;
  const float* src;
  float* dx;
  Activation act;
  FOVEAL_HD void operator()(size_t i) const { dx[i] = activate_grad(act, dy[i], src ? src[i] : 0.0f); }
};

// Plain: w -= g*lr; momentum: m = m*mu - g*lr, then w += m*mu - g*lr (nesterov) or w += m.
struct SgdStep {
  float* w;
  const float* g;
  float* m;
  SgdParams p;
  FOVEAL_HD void operator()(size_t i) const {
    const float step = g[i] * p.lr;
    if (m == nullptr) {
      w[i] = w[i] - step;
      return;
    }
    const float mv = m[i] * p.momentum - step;
    m[i] = mv;
    w[i] = w[i] + (p.nesterov ? mv * p.momentum - step : mv);
  }
};

// m += (g - m)*(1 - b1); v += (g*g - v)*(1 - b2); w -= (m*alpha)/(sqrt(v) + eps).
struct AdamStep {
  float* w;
  const float* g;
  float* m;
  float* v;
  AdamParams p;
  FOVEAL_HD void operator()(size_t i) const {
    const float gv = g[i];
    const float mv = m[i] + (gv - m[i]) * p.one_minus_beta1;
    const float vv = v[i] + (gv * gv - v[i]) * p.one_minus_beta2;
    m[i] = mv;
    v[i] = vv;
    w[i] = w[i] - (mv * p.alpha) / (sqrtf(vv) + p.epsilon);
  }
};

// v = v*rho + (1-rho)*(g*g); centered (a): a = a*rho + (1-rho)*g, denom = (v - a*a) + eps, else
// v + eps; inc = (lr*g)/sqrt(denom); momentum (m): m = m*mu + inc; w -= inc (or m).
struct RmspropStep {
  float* w;
  const float* g;
  float* v;
  float* m;
  float* a;
  RmspropParams p;
  FOVEAL_HD void operator()(size_t i) const {
    const float gv = g[i];
    const float vv = v[i] * p.rho + p.one_minus_rho * (gv * gv);
    v[i] = vv;
    float denom;
    if (a != nullptr) {
      const float av = a[i] * p.rho + p.one_minus_rho * gv;
      a[i] = av;
      denom = (vv - av * av) + p.epsilon;
    } else {
      denom = vv + p.epsilon;
    }
    float inc = (p.lr * gv) / sqrtf(denom);
    if (m != nullptr) {
      inc = m[i] * p.momentum + inc;
      m[i] = inc;
    }
    w[i] = w[i] - inc;
  }
};

}  // namespace

void bias_activation_f32(Where w, size_t n, size_t c, const float* x, const float* bias, float* y,
                         Activation act) {
  for_each(w, n, BiasAct{c, x, bias, y, act}, "activation");
}
void activation_backward_f32(Where w, size_t n, const float* dy, const float* src, float* dx, Activation act) {
  for_each(w, n, ActGrad{dy, src, dx, act}, "activation_backward");
}
void sgd_step_f32(Where w, size_t n, float* weights, const float* g, float* m, const SgdParams& p) {
  for_each(w, n, SgdStep{weights, g, m, p}, "sgd_step");
}
void adam_step_f32(Where w, size_t n, float* weights, const float* g, float* m, float* v, const AdamParams& p) {
  for_each(w, n, AdamStep{weights, g, m, v, p}, "adam_step");
}
void rmsprop_step_f32(Where w, size_t n, float* weights, const float* g, float* v, float* m, float* a,
                      const RmspropParams& p) {
  for_each(w, n, RmspropStep{weights, g, v, m, a, p}, "rmsprop_step");
}

}  // namespace foveal::cuda
