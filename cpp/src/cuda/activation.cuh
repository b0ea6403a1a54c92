// The elementwise activations (Keras 3 definitions, foveal::Activation) and their gradients, one
// body for the device and the host. Standard float math (expf, erff, ...): within a few ulp of the
// CPU kernels' polynomials, far inside the 1e-4 the CUDA build promises.
#pragma once

#include <cmath>

#include "cuda/common.cuh"
#include "foveal/kernels.h"

namespace foveal::cuda {

FOVEAL_HD float act_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

FOVEAL_HD float activate(Activation a, float x) {
  switch (a) {
    case Activation::none: return x;
    case Activation::relu: return x > 0.0f ? x : 0.0f;
    case Activation::sigmoid: return act_sigmoid(x);
    case Activation::tanh: return tanhf(x);
    case Activation::relu6: return fminf(fmaxf(x, 0.0f), 6.0f);
    case Activation::hard_sigmoid: return fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f;
    case Activation::hard_silu: return x * (fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f);
    case Activation::silu: return x * act_sigmoid(x);
    case Activation::gelu: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case Activation::leaky_relu: return x > 0.0f ? x : 0.2f * x;
    case Activation::elu: return x > 0.0f ? x : expm1f(x);
    case Activation::softplus: return x > 20.0f ? x : log1pf(expf(x));
  }
  return x;
}

// dy * f'(.) from src: the forward input x where activation_grad_from_input(a), else the output y.
FOVEAL_HD float activate_grad(Activation a, float dy, float s) {
  switch (a) {
    case Activation::none: return dy;
    case Activation::relu: return s > 0.0f ? dy : 0.0f;
    case Activation::sigmoid: return dy * (s * (1.0f - s));
    case Activation::tanh: return dy * (1.0f - s * s);
    case Activation::relu6: return s > 0.0f && s < 6.0f ? dy : 0.0f;
    case Activation::hard_sigmoid: return s > 0.0f && s < 1.0f ? dy * (1.0f / 6.0f) : 0.0f;
    case Activation::hard_silu:
      return s < -3.0f ? 0.0f : (s > 3.0f ? dy : dy * ((2.0f * s + 3.0f) / 6.0f));
    case Activation::silu: {
      const float sg = act_sigmoid(s);
      return dy * (sg * (1.0f + s * (1.0f - sg)));
    }
    case Activation::gelu: {
      const float cdf = 0.5f * (1.0f + erff(s * 0.70710678118654752f));
      const float pdf = 0.39894228040143268f * expf(-0.5f * s * s);
      return dy * (cdf + s * pdf);
    }
    case Activation::leaky_relu: return s > 0.0f ? dy : 0.2f * dy;
    case Activation::elu: return s > 0.0f ? dy : dy * (s + 1.0f);
    case Activation::softplus: return dy * (1.0f - expf(-s));
  }
  return dy;
}

}  // namespace foveal::cuda
