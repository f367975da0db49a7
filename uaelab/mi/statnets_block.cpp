// StatNets' block loop (uaelab/mi/mine.py, StatNets._block_step) in C++: all MINE Adam steps of
// one block of samples in one call, without the GIL and without Python between the operations.
// Compiled on first use by uaelab/mi/native.py; the Python block loop is the reference and the
// fallback, and tests/test_native.py checks that the two agree.
//
// Layout (see StatNets._block): params = [W1x [2c, n+1, N1] (b1 as row n), W2ᵀ [2c, H, N1],
// b2 [2c, H], w [c, H]], the Adam moments m1, m2 alike, one step count; pairs abx [2c, K, n+1]
// with a column of ones and abxT, the same with K last.
//
// What differs from the Python loop, and why it is faster: one pass over W1x per step forms
// dW1x = dMxᵀ·W2ᵀ sixteen columns at a time in registers, applies Adam to W1x, and forms the next
// step's fold Mxᵀ = W2ᵀ·W1xᵀ from the updated rows while they are in L1 (the Python loop reads and
// writes W1x-sized tensors four times: the fold, dW1x, the Adam update and its moments). Adam
// multiplies by 1/sqrt(1-β2^t) where torch's fused Adam divides by it. Float summation orders
// therefore differ from the Python loop's; each block runs on one thread, so the result is the
// same bits at any thread count.
#include <torch/extension.h>

#include <cmath>
#include <vector>

using at::Tensor;

namespace {

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));  // unaligned loads and stores
inline v16 ld(const float* x) { return *(const v16u*)x; }
inline void st(float* x, v16 v) { *(v16u*)x = v; }
inline float hsum(v16 v) {  // a fixed order of the lanes: the same bits on every call
  float s = 0.0f;
  for (int l = 0; l < 16; ++l) s += v[l];
  return s;
}

constexpr int kMaxH = 64;  // widest output layer of the generic instantiation (native.py checks)

Tensor gconv(const Tensor& x, const Tensor& w) {
  // w [G, P, Q] @ x [G, Q, R] -> [G, P, R]; by oneDNN's grouped 1x1 convolution where available
  // (its AVX-512 kernels; see _gconv in mine.py), else bmm
  const int64_t G = w.size(0), P = w.size(1), Q = w.size(2), R = x.size(2);
  if (!at::hasMKLDNN()) return at::bmm(w, x);
  auto out = at::mkldnn_convolution(x.reshape({1, G * Q, 1, R}), w.reshape({G * P, Q, 1, 1}), std::nullopt,
                                    {0, 0}, {1, 1}, {1, 1}, G);
  return out.view({G, P, R});
}

struct AdamScalars {
  // 1 - β in double, then rounded, as torch's fused Adam does: (1 - 0.999f) in float is off by
  // 1.3e-5 relative, which every second moment would inherit
  float beta1, beta2, one_minus_beta1, one_minus_beta2, step_size, inv_bc2, eps;
};

// Adam on n contiguous entries: p -= step_size · m1 / (sqrt(m2) / sqrt(1 - β2^t) + eps)
inline void adam(float* p, float* e1, float* e2, const float* g, int64_t n, const AdamScalars& a) {
  const float ob1 = a.one_minus_beta1, ob2 = a.one_minus_beta2;
#pragma omp simd
  for (int64_t k = 0; k < n; ++k) {
    const float gk = g[k];
    const float ak = e1[k] * a.beta1 + gk * ob1;
    const float sk = e2[k] * a.beta2 + ob2 * gk * gk;
    e1[k] = ak;
    e2[k] = sk;
    p[k] -= a.step_size * ak / (std::sqrt(sk) * a.inv_bc2 + a.eps);
  }
}

// Adam on W1x [G, n1, N1] with its gradient g = dMxᵀ·W2ᵀ_old, and the next fold
// MTx[i, h, j] = W2ᵀ_new[i, h, :] · W1x_new[i, j, :]. HC > 0: H known at compile time.
template <int HC>
void adam_w1_fold(float* p, float* m1, float* m2, const float* dMTx, const float* W2old, const float* W2new,
                  float* MTx, int64_t G, int64_t n1, int64_t N1, int Hrt, AdamScalars a) {
  const int H = HC > 0 ? HC : Hrt;
  constexpr int HA = HC > 0 ? HC : kMaxH;
  const int64_t N16 = N1 - N1 % 16;
  std::vector<float> gbuf(N1);
  float* g = gbuf.data();
  for (int64_t i = 0; i < G; ++i) {
    const float* wo = W2old + i * H * N1;
    const float* wn = W2new + i * H * N1;
    const float* dm = dMTx + i * H * n1;
    float* mt = MTx + i * H * n1;
    for (int64_t j = 0; j < n1; ++j) {
      float d[HA];
      for (int h = 0; h < H; ++h) d[h] = dm[h * n1 + j];
      // row j of dW1x: Σ_h dMᵀ[j, h] · W2ᵀ_old[h, :], sixteen columns at a time in registers
      for (int64_t k = 0; k < N16; k += 16) {
        v16 acc = d[0] * ld(wo + k);
        for (int h = 1; h < H; ++h) acc += d[h] * ld(wo + h * N1 + k);
        st(g + k, acc);
      }
      for (int64_t k = N16; k < N1; ++k) {
        float acc = d[0] * wo[k];
        for (int h = 1; h < H; ++h) acc += d[h] * wo[h * N1 + k];
        g[k] = acc;
      }
      const int64_t off = (i * n1 + j) * N1;
      float* pr = p + off;
      adam(pr, m1 + off, m2 + off, g, N1, a);
      // the next step's fold, entries (h, j), from the row just updated
      v16 acc[HA];
      for (int h = 0; h < H; ++h) acc[h] = v16{};
      for (int64_t k = 0; k < N16; k += 16) {
        const v16 pv = ld(pr + k);
        for (int h = 0; h < H; ++h) acc[h] += ld(wn + h * N1 + k) * pv;
      }
      for (int h = 0; h < H; ++h) {
        float s = hsum(acc[h]);
        for (int64_t k = N16; k < N1; ++k) s += wn[h * N1 + k] * pr[k];
        mt[h * n1 + j] = s;
      }
    }
  }
}

void adam_tensor(Tensor& p, Tensor& m1, Tensor& m2, const Tensor& grad, const AdamScalars& a) {
  TORCH_INTERNAL_ASSERT(p.is_contiguous() && m1.is_contiguous() && m2.is_contiguous() && grad.is_contiguous());
  adam(p.data_ptr<float>(), m1.data_ptr<float>(), m2.data_ptr<float>(), grad.data_ptr<float>(), p.numel(), a);
}

// Everything between the forward product and the backward ones, one sample at a time, in L1: the
// joint and shuffled pre-activations of both branches' outputs hT [2c, H, K], their ReLUs, the
// scores, the DV bound dv [c] (logsumexp), the softmax of the marginal scores (x MINE's
// bias-correction factor), dw [c, H] and d loss / d (both branches' outputs) dh [2c, H, K].
// The Python loop's ~20 tensor operations (StatNets._block_step), with the same values.
void heads(const float* hT, const int64_t* perm, const float* w, float* log_ema, bool bias_correction,
           double ema_rate, int64_t c, int64_t H, int64_t K, float* dh, float* dw, float* dv) {
  // vectorisable loops (the shuffles are gathers): scalar code here cost as much as the W1x pass
  std::vector<float> rj(H * K), rm(H * K), joint(K), marg(K), q(K), gm(K);
  std::vector<int64_t> inv(K);
  const float negk = (float)(-1.0 / (double)K);
  const float logK = (float)std::log((double)K);
  for (int64_t i = 0; i < c; ++i) {
    const float* ha = hT + i * H * K;
    const float* hb = hT + (c + i) * H * K;
    const int64_t* pm = perm + i * K;
    const float* wi = w + i * H;
    for (int64_t k = 0; k < K; ++k) inv[pm[k]] = k;  // the inverse shuffle
    std::fill(joint.begin(), joint.end(), 0.0f);
    std::fill(marg.begin(), marg.end(), 0.0f);
    for (int64_t h = 0; h < H; ++h) {
      const float* a = ha + h * K;
      const float* b = hb + h * K;
      float* xj = rj.data() + h * K;
      float* xm = rm.data() + h * K;
      const float wh = wi[h];
      float* jt = joint.data();
      float* mg = marg.data();
#pragma omp simd
      for (int64_t k = 0; k < K; ++k) {
        const float zj = a[k] + b[k];
        const float zm = a[k] + b[pm[k]];  // b's outputs shuffled: the marginal's pairs
        xj[k] = zj > 0.0f ? zj : 0.0f;
        xm[k] = zm > 0.0f ? zm : 0.0f;
        jt[k] += wh * xj[k];
        mg[k] += wh * xm[k];
      }
    }
    float mx = marg[0], jsum = 0.0f, esum = 0.0f;
    for (int64_t k = 0; k < K; ++k) mx = std::max(mx, marg[k]);
    for (int64_t k = 0; k < K; ++k) {
      q[k] = std::exp(marg[k] - mx);
      esum += q[k];
      jsum += joint[k];
    }
    const float lme = mx + std::log(esum) - logK;
    dv[i] = jsum / (float)K - lme;
    float weight = 1.0f;
    if (bias_correction) {  // MINE's moving average of E[e^T] in log space (StatNets._marg_weight)
      const float prev = std::isnan(log_ema[i]) ? lme : log_ema[i];
      if (ema_rate < 1) {
        const float x = prev + (float)std::log1p(-ema_rate), y = lme + (float)std::log(ema_rate);
        const float m = std::max(x, y);
        log_ema[i] = m + std::log1p(std::exp(-std::fabs(x - y)));  // logaddexp
      } else {
        log_ema[i] = lme;
      }
      weight = std::exp(lme - log_ema[i]);
    }
    for (int64_t k = 0; k < K; ++k) q[k] = q[k] / esum * weight;  // d loss / d marg
    float* da = dh + i * H * K;
    float* db = dh + (c + i) * H * K;
    for (int64_t h = 0; h < H; ++h) {
      const float* xj = rj.data() + h * K;
      const float* xm = rm.data() + h * K;
      const float wm = wi[h], wj = wi[h] * negk;  // d/dz of w·relu(z) times -1/K on the joint
      const float* qq = q.data();
      const int64_t* iv = inv.data();
      float* g = gm.data();
      float* a = da + h * K;
      float* b = db + h * K;
      float sj = 0.0f, sm = 0.0f;
#pragma omp simd reduction(+ : sj, sm)
      for (int64_t k = 0; k < K; ++k) {
        sj += xj[k];
        sm += xm[k] * qq[k];
        g[k] = xm[k] > 0.0f ? wm * qq[k] : 0.0f;                // d loss / d zm
        a[k] = (xj[k] > 0.0f ? wj : 0.0f) + g[k];             // a's output k: joint and shuffled pair k
      }
#pragma omp simd
      for (int64_t k = 0; k < K; ++k) {
        b[k] = (xj[k] > 0.0f ? wj : 0.0f) + g[iv[k]];        // b's output k: joint pair k, shuffled pair inv[k]
      }
      dw[i * H + h] = sj * negk + sm;
    }
  }
}

}  // namespace

// `steps` Adam steps of one block (the updates of StatNets._block_step); returns the bounds [c]
// before the last step.
Tensor block_steps(std::vector<Tensor> params, std::vector<Tensor> m1, std::vector<Tensor> m2, Tensor count,
                   Tensor abx, Tensor abxT, std::vector<at::Generator> gens,
                   Tensor log_ema, int64_t steps, double lr, double adam_eps, bool bias_correction,
                   double ema_rate) {
  pybind11::gil_scoped_release no_gil;
  at::NoGradGuard no_grad;
  TORCH_CHECK(params.size() == 4 && m1.size() == 4 && m2.size() == 4, "block_steps: four parameters");
  Tensor W1x = params[0], W2T = params[1], b2 = params[2], w = params[3];
  const int64_t B2 = W2T.size(0), H = W2T.size(1), N1 = W2T.size(2);
  const int64_t K = abx.size(1), n1 = abx.size(2), c = B2 / 2;
  TORCH_CHECK(H <= kMaxH, "block_steps: output width H must be <= ", kMaxH);
  TORCH_CHECK((int64_t)gens.size() == c, "block_steps: one generator per network");
  for (const Tensor& t : {W1x, W2T, b2, w, abx, abxT}) {
    TORCH_CHECK(t.is_contiguous() && t.scalar_type() == at::kFloat && t.is_cpu(), "block_steps: float32 CPU");
  }
  TORCH_CHECK(log_ema.is_contiguous() && log_ema.scalar_type() == at::kFloat && log_ema.numel() == c,
              "block_steps: log_ema [c] float32");
  for (size_t q = 0; q < 4; ++q) {
    TORCH_CHECK(m1[q].is_contiguous() && m2[q].is_contiguous(), "block_steps: contiguous moments");
  }
  auto opt = W1x.options();
  auto dh = at::empty({B2, H, K}, opt);
  auto dw = at::empty({c, H}, opt);
  auto MTx = at::empty({B2, H, n1}, opt);
  auto W2old = at::empty_like(W2T);
  auto perm = at::empty({c, K}, opt.dtype(at::kLong));  // each step's shuffles
  Tensor dv = at::empty({c}, opt);
  const double beta1 = 0.9, beta2 = 0.999;
  at::bmm_out(MTx, W2T, W1x.transpose(1, 2));  // the first fold; adam_w1_fold makes the later ones
  for (int64_t step = 0; step < steps; ++step) {
    for (int64_t i = 0; i < c; ++i) {  // the same draws as StatNets.permutations()
      auto row = perm.select(0, i);
      at::randperm_out(row, K, gens[i]);
    }
    MTx.select(2, n1 - 1).add_(b2);  // the bias column: W2ᵀb1 + b2 (overwritten by the next fold)
    auto hT = gconv(abxT, MTx);      // [2c, H, K], biases in
    TORCH_INTERNAL_ASSERT(hT.is_contiguous());
    heads(hT.data_ptr<float>(), perm.data_ptr<int64_t>(), w.data_ptr<float>(), log_ema.data_ptr<float>(),
          bias_correction, ema_rate, c, H, K, dh.data_ptr<float>(), dw.data_ptr<float>(), dv.data_ptr<float>());
    auto dMTx = gconv(abx, dh).contiguous();  // [2c, H, n+1] = [dMᵀ | dc]
    auto dW2T = gconv(W1x, dMTx).contiguous();  // [2c, H, N1], with W1x before its update
    auto dc = dMTx.select(2, n1 - 1).contiguous();
    count.add_(1);  // one step count for the block's four parameters (see StatNets._block)
    const double t = count.item<double>();
    AdamScalars a{(float)beta1, (float)beta2, (float)(1 - beta1), (float)(1 - beta2),
                  (float)(lr / (1 - std::pow(beta1, t))),
                  (float)(1.0 / std::sqrt(1 - std::pow(beta2, t))), (float)adam_eps};
    W2old.copy_(W2T);  // dW1x needs W2ᵀ as it was at the forward pass
    adam_tensor(W2T, m1[1], m2[1], dW2T, a);
    adam_tensor(b2, m1[2], m2[2], dc, a);
    adam_tensor(w, m1[3], m2[3], dw, a);
    float *pw = W1x.data_ptr<float>(), *e1 = m1[0].data_ptr<float>(), *e2 = m2[0].data_ptr<float>();
    const float *dmp = dMTx.data_ptr<float>(), *wo = W2old.data_ptr<float>(), *wn = W2T.data_ptr<float>();
    if (H == 10) {  // the released statistics network (512 -> 10)
      adam_w1_fold<10>(pw, e1, e2, dmp, wo, wn, MTx.data_ptr<float>(), B2, n1, N1, (int)H, a);
    } else {
      adam_w1_fold<0>(pw, e1, e2, dmp, wo, wn, MTx.data_ptr<float>(), B2, n1, N1, (int)H, a);
    }
  }
  return dv;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("block_steps", &block_steps, "All MINE Adam steps of one StatNets sample block");
}
