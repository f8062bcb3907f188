#!/usr/bin/env python3
"""Numpy CPU reference of the quantized Vulkan delegate ops, run on the exported fixtures.

    .venv/bin/python tests/op_fixtures/quantized/reference.py [CASE_DIR ...]
    .venv/bin/python tests/op_fixtures/quantized/reference.py --wheel-python

For every case directory (default: every directory beside this file holding delegate0.bin),
each `delegate<k>.bin` is parsed with tests/fixtures/dump_delegates.py (VH00 header + VK00
flatbuffer, no generated code), its constants are read from `named/<key>.bin` *as raw bytes*
with the dtype and dims the VkTensor declares, and the op chain is executed in numpy from the
recorded `delegate<k>_input<i>.npy`. The outputs are compared with `delegate<k>_expected<i>.npy`
(PyTorch eager on the delegate's original graph). Nothing is taken from torch: the byte layouts,
nibble orders, paddings, scale transposes, weight sums and rounding rules are the ones written
in docs/quantized-ops.md, so a match proves them.

Arithmetic follows what a Vulkan kernel can do: float32 everywhere a kernel would use f32
(scalars serialized as Double are used as the nearest f32; reciprocals are taken in f32),
integer dot products accumulated exactly in int64 and corrected with the exporter's
weight sums, round-half-to-even for every float -> int rounding (GLSL roundEven; torch.round
is half-to-even too). Where eager differs by design (float64 scales of the
quantized_decomposed choose_qparams ops, float summation order) the case's tolerance.txt says
so; the printout gives, per output, the max abs error, and for integer outputs the number of
elements that differ.

Exit status 0 when every output is within its case's tolerance (default atol = rtol = 1e-4).
"""

import glob
import os
import sys
from typing import Dict, List

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "fixtures"))
import dump_delegates as dd  # noqa: E402

NP_DTYPES = {0: np.bool_, 1: np.uint8, 2: np.int8, 3: np.int32, 4: np.float16, 5: np.float32, 6: np.float64, 7: np.int64}
F32 = np.float32


def f32(x) -> np.float32:
    return np.float32(x)


def rne(x):
    """round half to even (GLSL roundEven, torch.round, np.rint)."""
    return np.rint(x)


def recip(s):
    """1 / s in float32 (one correctly rounded f32 division)."""
    return (F32(1.0) / np.asarray(s, dtype=F32)).astype(F32)


def quantize(x, inv_scale, zp, qmin=-128, qmax=127):
    """clamp(roundEven(x * inv_scale) + zp, qmin, qmax), x * inv_scale in f32: the form of
    quantized_decomposed.quantize_per_tensor / quantize_per_token / torchao.quantize_affine."""
    q = rne(x.astype(F32) * np.asarray(inv_scale, dtype=F32)) + np.asarray(zp, dtype=F32)
    return np.clip(q, qmin, qmax).astype(np.int32)


def dequant(q, scale, zp):
    """(q - zp) * scale in f32 (dequantize_per_tensor / _per_token / _per_channel / torchao)."""
    return ((q.astype(np.int32) - np.asarray(zp).astype(np.int32)).astype(F32) * np.asarray(scale, dtype=F32)).astype(F32)


# --------------------------------------------------------------------------- #
# Weight unpacking: the byte layouts of docs/quantized-ops.md
# --------------------------------------------------------------------------- #


def unpack_q4_low_even(packed: np.ndarray, k: int) -> np.ndarray:
    """linear_q4gsw / linear_dq8ca_q4gsw / embedding_q4gsw(is_linear_weight=True):
    uint8 [N, Kp/2], byte j of row n = (w[n, 2j+1] + 8) << 4 | (w[n, 2j] + 8): low nibble =
    even column. Returns int32 [N, k] in [-8, 7] (padding columns dropped)."""
    lo = (packed & 0x0F).astype(np.int32) - 8
    hi = (packed >> 4).astype(np.int32) - 8
    w = np.stack([lo, hi], axis=-1).reshape(packed.shape[0], -1)
    return w[:, :k]


def unpack_q4_high_even(packed: np.ndarray, k: int) -> np.ndarray:
    """linear_qcs4w and quantized_decomposed.embedding_4bit: byte j of row n =
    (w[n, 2j] + 8) << 4 | (w[n, 2j+1] + 8): high nibble = even column."""
    hi = (packed >> 4).astype(np.int32) - 8
    lo = (packed & 0x0F).astype(np.int32) - 8
    w = np.stack([hi, lo], axis=-1).reshape(packed.shape[0], -1)
    return w[:, :k]


# --------------------------------------------------------------------------- #
# Integer linear / conv cores
# --------------------------------------------------------------------------- #


def q8_linear_core(qx, in_scale, in_zp, w, wsums, wscales, bias, n):
    """Static int8 activations x per-channel int8 weights, the form the weight sums exist
    for: out[m, n] = s_in * s_w[n] * (sum_k qx[m,k] w[n,k] - zp_in * wsum[n]) + bias[n].
    The exact integer part is checked against the exporter's wsums."""
    assert np.array_equal(wsums[:n], w.astype(np.int64).sum(1)), "weight sums"
    acc = qx.reshape(-1, qx.shape[-1]).astype(np.int64) @ w.astype(np.int64).T  # [M, N]
    acc = acc - np.int64(in_zp) * wsums[:n].astype(np.int64)
    out = acc.astype(F32) * (f32(in_scale) * wscales[:n].astype(F32))
    if bias is not None:
        out = out + bias[:n].astype(F32)
    return out.astype(F32).reshape(qx.shape[:-1] + (n,))


def im2col_conv2d(x, kh, kw, stride, padding, dilation):
    """x [C, H, W] -> patches [OH, OW, KH, KW, C] (zero padded)."""
    c, h, w = x.shape
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    xp = np.zeros((c, h + 2 * padding[0], w + 2 * padding[1]), dtype=x.dtype)
    xp[:, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    out = np.zeros((oh, ow, kh, kw, c), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            ys = i * dilation[0]
            xs = j * dilation[1]
            out[:, :, i, j, :] = xp[:, ys:ys + stride[0] * (oh - 1) + 1:stride[0], xs:xs + stride[1] * (ow - 1) + 1:stride[1]].transpose(1, 2, 0)
    return out


def requant(out_f, out_scale, out_zp, relu=False, inv=None):
    if relu:
        out_f = np.maximum(out_f, F32(0))
    return quantize(out_f, recip(f32(out_scale)) if inv is None else f32(inv), out_zp)


# --------------------------------------------------------------------------- #
# Interpreter
# --------------------------------------------------------------------------- #


class Interp:
    def __init__(self, g: dd.Graph, named_dir: str):
        self.g = g
        self.named_dir = named_dir
        self.env: Dict[int, np.ndarray] = {}

    def meta(self, vid):
        v = self.g.values[vid]
        assert v.kind == "VkTensor", (vid, v)
        return v.payload

    def const(self, vid) -> np.ndarray:
        t = self.meta(vid)
        c = self.g.constants[t["constant_id"]]
        dt = np.dtype(NP_DTYPES[t["datatype"]])
        n = int(np.prod(t["dims"])) if t["dims"] else 1
        assert c.offset == dd.NAMED_DATA_OFFSET, "constants are named data"
        raw = open(os.path.join(self.named_dir, c.named_key + ".bin"), "rb").read()
        assert c.length == n * dt.itemsize == len(raw), (vid, c, t, len(raw))
        return np.frombuffer(raw, dtype=dt).reshape(t["dims"]).copy()

    def T(self, vid) -> np.ndarray:
        t = self.meta(vid)
        return self.const(vid) if t["constant_id"] >= 0 else self.env[vid]

    def S(self, vid):
        v = self.g.values[vid]
        if v.kind in ("Null", "NONE"):
            return None
        if v.kind == "VkTensor":
            return self.T(vid)
        if v.kind == "ValueList":
            return [self.T(i) for i in v.payload]
        return v.payload

    def write(self, vid, val: np.ndarray):
        t = self.meta(vid)
        assert list(val.shape) == list(t["dims"]), ("shape", vid, val.shape, t["dims"])
        self.env[vid] = val.astype(NP_DTYPES[t["datatype"]])

    def run(self, inputs: List[np.ndarray]) -> List[np.ndarray]:
        for vid, x in zip(self.g.input_ids, inputs):
            t = self.meta(vid)
            self.env[vid] = x.astype(NP_DTYPES[t["datatype"]])  # int64 -> int32 etc.
        for op in self.g.chain:
            self.run_op(op)
        return [self.env[v] for v in self.g.output_ids]

    def run_op(self, op):  # noqa: C901
        a = op.args
        n = op.name
        S, T = self.S, self.T
        out = a[-1]
        od = self.meta(out)["dims"] if self.g.values[out].kind == "VkTensor" else None

        if n == "et_vk.prepack.default":
            r = T(a[0])
        elif n == "aten.clone.default":
            r = T(a[0]).copy()
        elif n == "aten.view_copy.default":
            r = T(a[0]).reshape(od)
        elif n == "aten.add.Tensor":
            r = T(a[0]).astype(F32) + f32(S(a[2])) * T(a[1]).astype(F32)
        elif n == "aten.linear.default":
            b = S(a[2])
            r = T(a[0]).astype(np.float64) @ T(a[1]).astype(np.float64).T
            r = r + (0 if b is None else b.astype(np.float64))

        # ---- 4-bit weights ----
        elif n == "et_vk.linear_q4gsw.default":
            x, wp, sc, gs, b = T(a[0]), T(a[1]), T(a[2]), S(a[3]), S(a[4])
            k, nn = x.shape[-1], od[-1]
            w = unpack_q4_low_even(wp, k)  # [N, K]
            s = sc.astype(F32)[:, :nn]  # [K/G, Npad] -> [K/G, N]
            wdq = w.astype(F32) * s[np.arange(k) // gs, :].T  # [N, K]
            r = x.astype(np.float64) @ wdq.astype(np.float64).T
            if b is not None:
                r = r + b.astype(np.float64)[:nn]
        elif n == "et_vk.linear_dq8ca_q4gsw.default":
            x, xs, xz, wp, ws, sc, gs, b = (T(a[0]), T(a[1]), T(a[2]), T(a[3]), T(a[4]), T(a[5]), S(a[6]), S(a[7]))
            k, nn = x.shape[-1], od[-1]
            w = unpack_q4_low_even(wp, k)  # [N, K] int
            ng = k // gs
            wg = w.reshape(nn, ng, gs)
            assert np.array_equal(ws[:, :nn], wg.sum(2).T), "weight sums [K/G, Npad8]"
            x2 = x.reshape(-1, k)
            s2 = xs.reshape(-1).astype(F32)
            z2 = xz.reshape(-1).astype(np.int64)
            qx = quantize(x2, recip(s2)[:, None], z2[:, None]).astype(np.int64)  # [M, K]
            acc = np.einsum("mgk,ngk->mng", qx.reshape(-1, ng, gs), wg.astype(np.int64))  # [M, N, G]
            acc = acc - z2[:, None, None] * ws[:, :nn].T.astype(np.int64)[None]
            r = (acc.astype(np.float64) * sc[:, :nn].T.astype(np.float64)[None]).sum(-1) * s2[:, None].astype(np.float64)
            if b is not None:
                r = r + b.astype(np.float64)[:nn]
            r = r.reshape(od)
        elif n == "et_vk.embedding_q4gsw.default":
            wp, sc, gs, idx, lin = T(a[0]), T(a[1]), S(a[2]), T(a[3]), S(a[4])
            d = wp.shape[1] * 2
            w = (unpack_q4_low_even if lin else unpack_q4_high_even)(wp, d)  # [V, D]
            s = sc.astype(F32).reshape(wp.shape[0], -1)  # [V, D/G], not transposed
            table = w.astype(F32) * np.repeat(s, gs, axis=1)[:, :d]
            r = table[idx.astype(np.int64)]
        elif n == "quantized_decomposed.embedding_4bit.dtype":
            wp, sc, zp, qmin, qmax, idx = T(a[0]), T(a[1]), S(a[2]), S(a[3]), S(a[4]), T(a[5])
            assert zp is None and (qmin, qmax) == (-8, 7)
            d = wp.shape[1] * 2
            w = unpack_q4_high_even(wp, d)
            s = sc.astype(F32).reshape(wp.shape[0], -1)
            table = w.astype(F32) * np.repeat(s, d // s.shape[1], axis=1)
            r = table[idx.astype(np.int64)]
        elif n == "et_vk.linear_qcs4w.default":
            x, wp, sc = T(a[0]), T(a[1]), T(a[2])
            k, nn = x.shape[-1], od[-1]
            w = unpack_q4_high_even(wp, k)
            r = (x.astype(np.float64) @ w.astype(np.float64).T) * sc.astype(np.float64)[:nn]
        elif n == "aten._weight_int8pack_mm.default":
            x, w, sc = T(a[0]), T(a[1]), T(a[2])
            r = (x.astype(np.float64) @ w.astype(np.float64).T) * sc.astype(np.float64)

        # ---- quantized_decomposed ----
        elif n == "quantized_decomposed.quantize_per_tensor.default":
            r = quantize(T(a[0]), recip(f32(S(a[1]))), S(a[2]), S(a[3]), S(a[4]))
        elif n == "quantized_decomposed.quantize_per_tensor.tensor":
            s, z = T(a[1]).reshape(()), T(a[2]).reshape(())
            r = quantize(T(a[0]), recip(s), z, S(a[3]), S(a[4]))
        elif n == "quantized_decomposed.dequantize_per_tensor.default":
            r = dequant(T(a[0]), f32(S(a[1])), S(a[2]))
        elif n == "quantized_decomposed.dequantize_per_tensor.tensor":
            r = dequant(T(a[0]), T(a[1]).reshape(()), T(a[2]).reshape(()))
        elif n == "quantized_decomposed.choose_qparams.tensor":
            x, qmin, qmax, eps = T(a[0]), S(a[1]), S(a[2]), f32(S(a[3]))
            lo, hi = min(F32(0), x.min()), max(F32(0), x.max())
            s = max(F32((hi - lo) / F32(qmax - qmin)), eps)
            z = int(np.clip(qmin - rne(F32(lo / s)), qmin, qmax))
            self.write(self.g.values[out].payload[0], np.array([s], F32))
            self.write(self.g.values[out].payload[1], np.array([z], np.int32))
            return
        elif n == "quantized_decomposed.choose_qparams_per_token_asymmetric.default":
            x = T(a[0]).astype(F32)
            lo = np.minimum(x.min(-1, keepdims=True), F32(0))
            hi = np.maximum(x.max(-1, keepdims=True), F32(0))
            s = np.maximum((hi - lo) / F32(255), np.finfo(F32).eps).astype(F32)
            dmin, dmax = (lo / s).astype(F32), (hi / s).astype(F32)
            z = np.where((F32(-128) + dmin) + (F32(127) + dmax) > 0, F32(-128) - dmin, F32(127) - dmax)
            z = rne(np.clip(z, -128, 127))
            self.write(self.g.values[out].payload[0], s)
            self.write(self.g.values[out].payload[1], z.astype(np.int32))
            return
        elif n == "quantized_decomposed.quantize_per_token.default":
            r = quantize(T(a[0]), recip(T(a[1])), T(a[2]), S(a[3]), S(a[4]))
        elif n == "quantized_decomposed.dequantize_per_token.default":
            r = dequant(T(a[0]), T(a[1]), T(a[2]))
        elif n in ("quantized_decomposed.quantize_per_channel.default", "quantized_decomposed.dequantize_per_channel.default"):
            x, s, z, axis = T(a[0]), T(a[1]), S(a[2]), S(a[3])
            shape = [1] * x.ndim
            shape[axis] = -1
            s = s.astype(F32).reshape(shape)
            z = np.zeros_like(s, dtype=np.int32) if z is None else z.reshape(shape)
            if "dequantize" in n:
                r = dequant(x, s, z)
            else:
                r = quantize(x, recip(s), z, S(a[4]), S(a[5]))

        # ---- torchao ----
        elif n == "torchao.choose_qparams_affine.default":
            x, mapping, block = T(a[0]).astype(F32), S(a[1]), S(a[2])
            qmin, qmax, eps = S(a[4]), S(a[5]), S(a[6])
            assert mapping == "ASYMMETRIC", "only the asymmetric mapping is exported (8da4w)"
            assert all(b == 1 for b in block[:-1]) and x.shape[-1] % block[-1] == 0, block
            eps = np.finfo(F32).tiny if eps is None else f32(eps)  # None -> smallest normal
            xg = x.reshape(x.shape[:-1] + (x.shape[-1] // block[-1], block[-1]))
            lo = np.minimum(xg.min(-1), F32(0))
            hi = np.maximum(xg.max(-1), F32(0))
            s = np.maximum((hi - lo) / F32(qmax - qmin), F32(eps)).astype(F32)
            z = np.clip(F32(qmin) - rne((lo / s).astype(F32)), qmin, qmax)
            so, zo = self.g.values[out].payload
            self.write(so, s.reshape(self.meta(so)["dims"]))
            self.write(zo, z.reshape(self.meta(zo)["dims"]))
            return
        elif n in ("torchao.quantize_affine.default", "torchao.dequantize_affine.default"):
            x, block, s, z = T(a[0]), S(a[1]), T(a[2]), S(a[3])
            g = block[-1]
            assert all(b == 1 for b in block[:-1])
            s = np.repeat(s.astype(F32).reshape(x.shape[:-1] + (-1,)), g, axis=-1)
            z = np.zeros_like(s, dtype=np.int32) if z is None else np.repeat(z.reshape(x.shape[:-1] + (-1,)), g, axis=-1)
            if n.startswith("torchao.quantize"):
                r = quantize(x, recip(s), z, S(a[5]), S(a[6]))
            else:
                r = dequant(x, s, z)

        # ---- static int8 (q8ta) ----
        elif n in ("et_vk.linear_q8ta_q8csw.default", "et_vk.q8ta_linear.default", "et_vk.q8ta_linear_gemv.default"):
            qx, s_in, z_in, w, ws, wsc = T(a[0]), S(a[1]), S(a[2]), T(a[3]), T(a[4]), T(a[5])
            nn = od[-1]
            if n == "et_vk.linear_q8ta_q8csw.default":
                r = q8_linear_core(qx, s_in, z_in, w, ws, wsc, S(a[6]), nn)
            else:
                o = q8_linear_core(qx, s_in, z_in, w, ws, wsc, S(a[8]), nn)
                r = requant(o, S(a[6]), S(a[7]), relu=S(a[9]) == "relu")
        elif n in ("et_vk.q8ta_conv2d.default", "et_vk.q8ta_conv2d_pw.default", "et_vk.q8ta_conv2d_dw.default"):
            qx, s_in, z_in, w, ws, wsc, s_out, z_out, b = (T(a[i]) if i in (0, 3, 4, 5) else S(a[i]) for i in range(9))
            (kh, kw), stride, pad, dil, groups, act = S(a[9]), S(a[10]), S(a[11]), S(a[12]), S(a[13]), S(a[14])
            _, oc, oh, ow = od
            x = qx[0].astype(np.int64)
            icg = x.shape[0] // groups
            cols = im2col_conv2d(x - z_in, kh, kw, stride, pad, dil)  # [OH, OW, KH, KW, C], zero-point removed
            acc = np.zeros((oh, ow, oc), np.int64)
            if n == "et_vk.q8ta_conv2d_dw.default":
                # weight [KH, KW, OCpad]: acc[y, x, c] = sum_ij cols[y, x, i, j, c] * w[i, j, c]
                assert np.array_equal(ws[:oc], w[:, :, :oc].astype(np.int64).sum((0, 1)))
                acc = np.einsum("yxijc,ijc->yxc", cols, w[:, :, :oc].astype(np.int64))
            else:
                # weight [OC, Kpad], K ordered (kh, kw, ic_in_group): w[o, (i*KW + j)*ICg + c]
                kk = kh * kw * icg
                assert np.array_equal(ws[:oc], w[:, :kk].astype(np.int64).sum(1))
                ocg = oc // groups
                for gi in range(groups):
                    cg = cols[..., gi * icg:(gi + 1) * icg].reshape(oh, ow, kk)
                    acc[..., gi * ocg:(gi + 1) * ocg] = cg @ w[gi * ocg:(gi + 1) * ocg, :kk].astype(np.int64).T
            o = acc.astype(F32) * (f32(s_in) * wsc[:oc].astype(F32))
            if b is not None:
                o = o + b[:oc].astype(F32)
            r = requant(o, s_out, z_out, relu=act == "relu").transpose(2, 0, 1)[None]
        elif n == "et_vk.q8ta_conv2d_transposed.default":
            qx, s_in, z_in, w, ws, wsc, s_out, z_out, b = (T(a[i]) if i in (0, 3, 4, 5) else S(a[i]) for i in range(9))
            (kh, kw), stride, pad, opad, dil, groups, act = (S(a[i]) for i in range(9, 16))
            assert dil == [1, 1]
            _, oc, oh, ow = od
            x = qx[0].astype(np.int64) - z_in  # [IC, H, W]
            ic, h, wd = x.shape
            icg, ocg = ic // groups, oc // groups
            kk = kh * kw * icg
            assert np.array_equal(ws[:oc], w[:, :kk].astype(np.int64).sum(1))
            # weight [OC, Kpad]: row g*OCg + o, column (i*KW + j)*ICg + c  =  W_torch[g*ICg + c, o, i, j]
            wt = w[:, :kk].astype(np.int64).reshape(oc, kh, kw, icg)
            full = np.zeros((oc, (h - 1) * stride[0] + kh, (wd - 1) * stride[1] + kw), np.int64)
            for gi in range(groups):
                xg = x[gi * icg:(gi + 1) * icg]  # [ICg, H, W]
                wg = wt[gi * ocg:(gi + 1) * ocg]  # [OCg, KH, KW, ICg]
                contrib = np.einsum("chw,oijc->oijhw", xg, wg)
                for i in range(kh):
                    for j in range(kw):
                        full[gi * ocg:(gi + 1) * ocg, i:i + stride[0] * (h - 1) + 1:stride[0], j:j + stride[1] * (wd - 1) + 1:stride[1]] += contrib[:, i, j]
            acc = full[:, pad[0]:pad[0] + oh, pad[1]:pad[1] + ow]
            if acc.shape[1:] != (oh, ow):  # output_padding rows beyond the scatter range stay 0
                tmp = np.zeros((oc, oh, ow), np.int64)
                tmp[:, :acc.shape[1], :acc.shape[2]] = acc
                acc = tmp
            o = acc.transpose(1, 2, 0).astype(F32) * (f32(s_in) * wsc[:oc].astype(F32))
            if b is not None:
                o = o + b[:oc].astype(F32)
            r = requant(o, s_out, z_out, relu=act == "relu").transpose(2, 0, 1)[None]
        elif n == "et_vk.q8ta_add.default":
            qa, qb, sa, za, sb, zb, so, zo, alpha = T(a[0]), T(a[1]), *(S(a[i]) for i in range(2, 9))
            o = dequant(qa, f32(sa), za) + f32(alpha) * dequant(qb, f32(sb), zb)
            r = requant(o, so, zo)
        elif n == "et_vk.q8ta_relu.default":
            q, si, zi, so, zo = T(a[0]), S(a[1]), S(a[2]), S(a[3]), S(a[4])
            r = requant(dequant(q, f32(si), zi), so, zo, relu=True)
        elif n == "et_vk.q8ta_pixel_shuffle.default":
            q, si, zi, inv_so, zo, up = T(a[0]), S(a[1]), S(a[2]), S(a[3]), S(a[4]), S(a[5])
            bn, c, h, w = q.shape
            sh = q.reshape(bn, c // (up * up), up, up, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(od)
            r = requant(dequant(sh, f32(si), zi), None, zo, inv=inv_so)
        else:
            raise NotImplementedError(n)
        self.write(out, np.asarray(r))


def numbered(d, prefix):
    out, i = [], 0
    while os.path.exists(os.path.join(d, "%s%d.npy" % (prefix, i))):
        out.append(np.load(os.path.join(d, "%s%d.npy" % (prefix, i))))
        i += 1
    return out


def check_case(d: str) -> bool:
    tol = (1e-4, 1e-4)
    if os.path.exists(os.path.join(d, "tolerance.txt")):
        tol = tuple(float(v) for v in open(os.path.join(d, "tolerance.txt")).read().split())
    ok = True
    for k in range(len(glob.glob(os.path.join(d, "delegate*.bin")))):
        _, g = dd.parse_blob(open(os.path.join(d, "delegate%d.bin" % k), "rb").read())
        outs = Interp(g, os.path.join(d, "named")).run(numbered(d, "delegate%d_input" % k))
        exp = numbered(d, "delegate%d_expected" % k)
        assert len(outs) == len(exp)
        for i, (o, e) in enumerate(zip(outs, exp)):
            assert o.shape == e.shape, (d, i, o.shape, e.shape)
            err = float(np.abs(o.astype(np.float64) - e.astype(np.float64)).max()) if e.size else 0.0
            good = bool(np.all(np.abs(o.astype(np.float64) - e.astype(np.float64)) <= tol[0] + tol[1] * np.abs(e.astype(np.float64))))
            extra = ""
            if not np.issubdtype(e.dtype, np.floating):
                extra = " (%d of %d integers differ)" % (int((o.astype(np.int64) != e.astype(np.int64)).sum()), e.size)
            print("  %-40s delegate%d output%d %-8s max abs err %-10.3g tol %g/%g %s%s" % (
                os.path.basename(d), k, i, str(o.dtype), err, tol[0], tol[1], "ok" if good else "MISMATCH", extra))
            ok &= good
    return ok


def wheel_python_check() -> None:
    """docs/quantized-ops.md section 8: the wheel's own Python implementations of two ops
    (custom_ops_lib.py), fed the exported constants, against eager / this reference."""
    import torch

    import executorch.backends.vulkan.custom_ops_lib  # noqa: F401

    def load(case):
        d = os.path.join(HERE, case)
        _, g = dd.parse_blob(open(os.path.join(d, "delegate0.bin"), "rb").read())
        return d, g, Interp(g, os.path.join(d, "named"))

    d, g, it = load("q8ta_conv2d")
    x = np.load(os.path.join(d, "delegate0_input0.npy"))
    it.run([x])
    c = next(o for o in g.chain if o.name == "et_vk.q8ta_conv2d.default")
    args = [it.S(i) for i in c.args[:-1]]
    args = [torch.from_numpy(v) if isinstance(v, np.ndarray) else v for v in args]
    out = torch.ops.et_vk.q8ta_conv2d(*args).numpy()
    deq = (out.astype(F32) - args[7]) * f32(args[6])
    exp = np.load(os.path.join(d, "delegate0_expected0.npy"))
    print("custom_ops_lib q8ta_conv2d on q8ta_conv2d: max |impl - eager| = %.3g (this reference: 0)" % np.abs(deq - exp).max())

    d, g, it = load("qcs4w")
    x = np.load(os.path.join(d, "delegate0_input0.npy"))
    it.run([x])
    op = next(o for o in g.chain if o.name == "et_vk.linear_qcs4w.default")
    out = torch.ops.et_vk.linear_qcs4w(torch.from_numpy(x), torch.from_numpy(it.T(op.args[1])), torch.from_numpy(it.T(op.args[2])))
    print("custom_ops_lib linear_qcs4w on qcs4w: max |impl - this reference| = %.3g (this reference matches eager)"
          % float(np.abs(out.numpy() - it.env[op.args[-1]]).max()))


def main() -> int:
    if sys.argv[1:] == ["--wheel-python"]:
        wheel_python_check()
        return 0
    dirs = sys.argv[1:] or sorted(os.path.dirname(p) for p in glob.glob(os.path.join(HERE, "*", "delegate0.bin")))
    ok = all([check_case(d) for d in dirs])
    print("quantized reference:", "all %d cases ok" % len(dirs) if ok else "FAILURES")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
