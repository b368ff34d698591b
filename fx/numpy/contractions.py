"""Contractions with NumPy names: ``matmul``, ``dot``, ``tensordot``, ``einsum``, ...

Every contraction is a composition of the one primitive ``dot_general``; ``diagonal``
is a primitive of its own, ``trace``, ``diag`` and ``kron`` are compositions. Operands
are promoted to a common dtype first (NumPy 2 rules, weak Python scalars).

Example:
    >>> import fx.numpy as fnp
    >>> a = fnp.arange(6.0).reshape(2, 3)
    >>> fnp.einsum("ij,kj->ik", a, a)
    Array([[ 5., 14.],
           [14., 50.]], dtype=float32)
"""
from __future__ import annotations

import operator

import numpy as np

import fx.numpy as fnp
from fx import dtypes
from fx.array import Array, wrap
from fx.core import trace as _trace
from fx.core.elementwise import as_operand, promote
from fx.core.primitive import bind
from fx.core.rule_kit import normalize_axis
from fx.errors import op_error
from fx.prims.linalg import diagonal_p, dot_general_p

__all__ = ["matmul", "dot", "vdot", "tensordot", "einsum", "outer", "inner", "kron", "trace",
           "diagonal", "diag"]


def dot_general(x, y, contract, batch=((), ())):
    """Bind ``dot_general``: output is batch dims, then free dims of ``x``, then of ``y``."""
    contract = tuple(tuple(int(d) for d in ds) for ds in contract)
    batch = tuple(tuple(int(d) for d in ds) for ds in batch)
    return bind(dot_general_p, x, y, dimension_numbers=(contract, batch))


def _shape_error(op: str, x, y, message: str) -> ValueError:
    return op_error(ValueError, op, message, x, y)


def matmul(x1, x2, /):
    """Matrix product with NumPy semantics: 1-D operands promoted, batch dims broadcast.

    >>> fnp.matmul(fnp.ones((2, 3)), fnp.ones(3))
    Array([3., 3.], dtype=float32)
    """
    if (not _trace.dynamic_active and type(x1) is Array and type(x2) is Array
            and x1._v.dtype == x2._v.dtype):
        try:  # eager fast path: exactly dot_general's impl on an untransposed product
            return wrap(np.matmul(x1._v, x2._v))
        except Exception:
            pass  # the general path below raises the clear error
    x, y = promote((x1, x2))
    if x.ndim == 0 or y.ndim == 0:
        raise _shape_error("matmul", x, y, "operands must be at least 1-D (use multiply for "
                           "scalars)")
    k = x.shape[-1]
    ky = y.shape[0] if y.ndim == 1 else y.shape[-2]
    if k != ky:
        raise _shape_error("matmul", x, y, f"contraction dimension {k} != {ky}")
    if x.ndim <= 2 or y.ndim <= 2:
        out = dot_general(x, y, ((x.ndim - 1,), (max(y.ndim - 2, 0),)))
        if x.ndim == 2 and y.ndim > 2:  # (n, B..., m) -> (B..., n, m)
            out = fnp.moveaxis(out, 0, -2)
        return out
    try:
        batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except ValueError:
        raise _shape_error("matmul", x, y, f"batch dimensions {x.shape[:-2]} and "
                           f"{y.shape[:-2]} cannot be broadcast together") from None
    x = fnp.broadcast_to(x, batch + x.shape[-2:])
    y = fnp.broadcast_to(y, batch + y.shape[-2:])
    nb = len(batch)
    return dot_general(x, y, ((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb))))


def dot(a, b, /):
    """NumPy ``dot``: sum product over the last axis of ``a`` and the second-to-last of ``b``.

    >>> fnp.dot(fnp.ones(3), fnp.ones(3))
    Array(3., dtype=float32)
    """
    a, b = promote((a, b))
    if a.ndim == 0 or b.ndim == 0:
        return fnp.multiply(a, b)
    axis_b = max(b.ndim - 2, 0)
    if a.shape[-1] != b.shape[axis_b]:
        raise _shape_error("dot", a, b, f"contraction dimension {a.shape[-1]} != "
                           f"{b.shape[axis_b]}")
    return dot_general(a, b, ((a.ndim - 1,), (axis_b,)))


def vdot(a, b, /):
    """Dot product of the flattened inputs, conjugating the first.

    >>> fnp.vdot(fnp.ones((2, 2)), fnp.ones(4))
    Array(4., dtype=float32)
    """
    a, b = promote((a, b))
    if a.size != b.size:
        raise _shape_error("vdot", a, b, f"inputs have {a.size} and {b.size} elements")
    return dot_general(fnp.conj(fnp.ravel(a)), fnp.ravel(b), ((0,), (0,)))


def tensordot(a, b, axes=2):
    """Sum products over ``axes``: an int N (last N of ``a``, first N of ``b``) or a pair.

    >>> fnp.tensordot(fnp.ones((2, 3)), fnp.ones((3, 4)), axes=1).shape
    (2, 4)
    """
    a, b = promote((a, b))
    if isinstance(axes, (int, np.integer)):
        n = operator.index(axes)
        if not 0 <= n <= min(a.ndim, b.ndim):
            raise _shape_error("tensordot", a, b, f"axes={n} is out of range")
        axes_a, axes_b = tuple(range(a.ndim - n, a.ndim)), tuple(range(n))
    else:
        try:
            axes_a, axes_b = (tuple(x) if isinstance(x, (tuple, list)) else (x,) for x in axes)
        except (TypeError, ValueError):
            raise _shape_error("tensordot", a, b, f"axes must be an int or a pair of axis "
                               f"sequences, got {axes!r}") from None
        axes_a = tuple(normalize_axis("tensordot", d, a.ndim) for d in axes_a)
        axes_b = tuple(normalize_axis("tensordot", d, b.ndim) for d in axes_b)
    if len(axes_a) != len(axes_b):
        raise _shape_error("tensordot", a, b, f"axes {axes_a} and {axes_b} differ in length")
    sizes_a, sizes_b = [a.shape[d] for d in axes_a], [b.shape[d] for d in axes_b]
    if sizes_a != sizes_b:
        raise _shape_error("tensordot", a, b, f"contraction dimensions {sizes_a} != {sizes_b}")
    return dot_general(a, b, (axes_a, axes_b))


def inner(a, b, /):
    """Sum product over the last axes of ``a`` and ``b``.

    >>> fnp.inner(fnp.ones((2, 3)), fnp.ones(3))
    Array([3., 3.], dtype=float32)
    """
    a, b = promote((a, b))
    if a.ndim == 0 or b.ndim == 0:
        return fnp.multiply(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise _shape_error("inner", a, b, f"last dimensions {a.shape[-1]} != {b.shape[-1]}")
    return dot_general(a, b, ((a.ndim - 1,), (b.ndim - 1,)))


def outer(a, b, /):
    """Outer product of the flattened inputs.

    >>> fnp.outer(fnp.ones(2), fnp.ones(3)).shape
    (2, 3)
    """
    a, b = promote((a, b))
    return dot_general(fnp.ravel(a), fnp.ravel(b), ((), ()))


def kron(a, b, /):
    """Kronecker product: blocks ``a[i, j] * b``.

    >>> fnp.kron(fnp.eye(2), fnp.ones((1, 2)))
    Array([[1., 1., 0., 0.],
           [0., 0., 1., 1.]], dtype=float32)
    """
    a, b = promote((a, b))
    nd = max(a.ndim, b.ndim)
    sa, sb = (1,) * (nd - a.ndim) + a.shape, (1,) * (nd - b.ndim) + b.shape
    pairs = fnp.multiply(fnp.reshape(a, tuple(d for s in sa for d in (s, 1))),
                         fnp.reshape(b, tuple(d for s in sb for d in (1, s))))
    return fnp.reshape(pairs, tuple(p * q for p, q in zip(sa, sb)))


def diagonal(a, offset=0, axis1=0, axis2=1):
    """Diagonal of ``a`` over ``axis1``/``axis2``, appended as the last axis.

    >>> fnp.diagonal(fnp.arange(4.0).reshape(2, 2))
    Array([0., 3.], dtype=float32)
    """
    return bind(diagonal_p, as_operand(a), offset=operator.index(offset),
                axis1=operator.index(axis1), axis2=operator.index(axis2))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    """Sum along a diagonal.

    >>> fnp.trace(fnp.eye(3))
    Array(3., dtype=float32)
    """
    out = fnp.sum(diagonal(a, offset, axis1, axis2), axis=-1)
    return out if dtype is None else out.astype(dtype)


def diag(v, k=0):
    """1-D input: a matrix with ``v`` on the ``k``-th diagonal; 2-D: that diagonal.

    >>> fnp.diag(fnp.asarray([1.0, 2.0]))
    Array([[1., 0.],
           [0., 2.]], dtype=float32)
    """
    v = as_operand(v)
    k = operator.index(k)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise op_error(ValueError, "diag", "input must be 1-D or 2-D", v)
    n = v.shape[0] + abs(k)
    padded = fnp.pad(v, (0, abs(k)))
    # Row i holds v[i] (k >= 0) or column j holds v[j] (k < 0); the mask keeps the diagonal.
    full = fnp.reshape(padded, (n, 1) if k >= 0 else (1, n))
    return fnp.where(fnp.eye(n, k=k, dtype=bool), full, 0)


# --- einsum ------------------------------------------------------------------------------
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_operand(op_subs: str, ndim: int, n_ell: int, where: str):
    """Index labels of one operand: letters, and ints for the (right-aligned) '...' dims."""
    if "..." in op_subs:
        head, tail = op_subs.split("...")
        n = ndim - len(head) - len(tail)
        if n < 0:
            raise ValueError(f"einsum: {where} {op_subs!r} has more indices than dimensions "
                             f"({ndim})")
        return [*head, *range(n_ell - n, n_ell), *tail]
    if len(op_subs) != ndim:
        raise ValueError(f"einsum: {where} {op_subs!r} has {len(op_subs)} indices but the "
                         f"operand has {ndim} dimensions")
    return list(op_subs)


def _parse(subscripts: str, operands):
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    in_subs = inputs.split(",")
    if len(in_subs) != len(operands):
        raise ValueError(f"einsum: {subscripts!r} names {len(in_subs)} operands, got "
                         f"{len(operands)}")
    for s in in_subs + [output]:
        bad = set(s.replace("...", "")) - set(_LETTERS)
        if bad or s.count("...") > 1:
            raise ValueError(f"einsum: invalid subscripts {s!r}")
    n_ell = max((op.ndim - len(s.replace("...", "")) for s, op in zip(in_subs, operands)
                 if "..." in s), default=0)
    labels = [_parse_operand(s, op.ndim, n_ell, f"operand {i}")
              for i, (s, op) in enumerate(zip(in_subs, operands))]
    if arrow:
        if n_ell and "..." not in output:
            raise ValueError(f"einsum: operands have '...' dimensions but the output "
                             f"{output!r} has no '...'")
        out = _parse_operand(output, len(output.replace("...", "")) + n_ell, n_ell, "output")
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscripts {output!r} repeat an index")
    else:
        counts = {}
        for ls in labels:
            for lab in ls:
                counts[lab] = counts.get(lab, 0) + 1
        out = list(range(n_ell)) + sorted(lab for lab, c in counts.items()
                                          if isinstance(lab, str) and c == 1)
    return labels, out


def _sizes(labels, operands):
    """Size of every index (broadcasting size-1 dims); ValueError on a mismatch."""
    sizes = {}
    for ls, op in zip(labels, operands):
        for lab, d in zip(ls, op.shape):
            prev = sizes.get(lab)
            if prev is None or prev == 1:
                sizes[lab] = d
            elif d not in (1, prev):
                raise op_error(ValueError, "einsum", f"index {lab!r} has sizes {prev} and {d}",
                               *operands)
    return sizes


def _prepare(op, ls, sizes, needed):
    """Take diagonals of repeated indices, drop broadcast size-1 dims, sum lone indices."""
    for lab in [lab for lab in dict.fromkeys(ls) if ls.count(lab) > 1]:
        while ls.count(lab) > 1:
            i = ls.index(lab)
            j = ls.index(lab, i + 1)
            op = bind(diagonal_p, op, offset=0, axis1=i, axis2=j)
            ls = [x for t, x in enumerate(ls) if t not in (i, j)] + [lab]
    squeeze = [i for i, lab in enumerate(ls) if op.shape[i] == 1 and sizes[lab] != 1]
    if squeeze:
        op = fnp.reshape(op, tuple(d for i, d in enumerate(op.shape) if i not in squeeze))
        ls = [lab for i, lab in enumerate(ls) if i not in squeeze]
    lone = [i for i, lab in enumerate(ls) if lab not in needed]
    if lone:
        op = fnp.sum(op, axis=tuple(lone))
        ls = [lab for i, lab in enumerate(ls) if i not in lone]
    return op, ls


def _split(lx, ly, keep):
    """Batch, contracted and result labels of contracting operands labelled ``lx``, ``ly``."""
    shared = [lab for lab in lx if lab in ly]
    batch = [lab for lab in shared if lab in keep]
    contract = [lab for lab in shared if lab not in keep]
    result = batch + [lab for lab in lx if lab not in shared] + \
        [lab for lab in ly if lab not in shared]
    return batch, contract, result


def _contract(x, lx, y, ly, keep):
    """Contract two operands over their shared indices that nothing later needs."""
    batch, contract, result = _split(lx, ly, keep)
    out = dot_general(x, y, ([lx.index(c) for c in contract], [ly.index(c) for c in contract]),
                      ([lx.index(b) for b in batch], [ly.index(b) for b in batch]))
    return out, result


def _path(operands, labels, out):
    """Pairwise contraction order: NumPy's greedy path on shape-only stand-ins."""
    if len(operands) <= 2:
        return [(0, 1)] * (len(operands) - 1)
    letters = iter(_LETTERS)
    names = {lab: next(letters) for lab in dict.fromkeys([*sum(labels, []), *out])}
    spec = ",".join("".join(names[lab] for lab in ls) for ls in labels)
    spec += "->" + "".join(names[lab] for lab in out)
    dummies = [np.broadcast_to(np.empty((), np.float32), op.shape) for op in operands]
    path = [tuple(step) for step in np.einsum_path(spec, *dummies, optimize="greedy")[0][1:]]
    if all(len(step) == 2 for step in path):
        return path
    return [(0, 1)] * (len(operands) - 1)  # left to right


def einsum(subscripts, /, *operands, optimize=True, dtype=None):
    """Einstein summation, as ``numpy.einsum`` (subscripts with '...' and implicit output).

    >>> fnp.einsum("ii->i", fnp.eye(2))
    Array([1., 1.], dtype=float32)
    """
    del optimize  # the contraction order is always NumPy's greedy path
    if not isinstance(subscripts, str):
        raise TypeError("einsum: only the subscripts-string form is supported")
    ops = promote([fnp.asarray(o) if dtypes.is_weak_scalar(o) else o for o in operands])
    if dtype is not None:
        ops = [o.astype(dtype) for o in ops]
    labels, out = _parse(subscripts, ops)
    sizes = _sizes(labels, ops)
    missing = [lab for lab in out if lab not in sizes]
    if missing:
        raise ValueError(f"einsum: output index {missing[0]!r} appears in no operand")
    for i, ls in enumerate(labels):
        others = [lab for j, ls2 in enumerate(labels) if j != i for lab in ls2]
        ops[i], labels[i] = _prepare(ops[i], ls, sizes, set(out) | set(others))
    for i, j in _path(ops, labels, out):
        x, lx = ops[i], labels[i]
        y, ly = ops[j], labels[j]
        for t in sorted((i, j), reverse=True):
            del ops[t], labels[t]
        keep = set(out).union(*map(set, labels))
        if not ops and _split(ly, lx, keep)[2] == out:  # last step: spare the final transpose
            x, lx, y, ly = y, ly, x, lx
        z, lz = _contract(x, lx, y, ly, keep)
        ops.append(z)
        labels.append(lz)
    result, final = _prepare(ops[0], labels[0], sizes, set(out))
    perm = [final.index(lab) for lab in out]
    return result if perm == sorted(perm) else fnp.transpose(result, perm)
