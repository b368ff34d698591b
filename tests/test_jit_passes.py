"""The jit graph passes: each one changes the graphs it should, keeps values bit for bit, and
leaves alone what it must (effects, broadcasting, dtype changes, x * 0, signed zeros)."""

import numpy as np
import pytest

import fx
import fx.numpy as fnp
from fx import random
from fx.core.aval import ShapedArray
from fx.core.graph import Eqn, Graph, Var, eval_graph
from fx.core.primitive import PRIMITIVES, Primitive
from fx.core.staging import make_graph_flat
from fx.prims.elementwise import (
    add_p,
    convert_element_type_p,
    cos_p,
    div_p,
    mul_p,
    neg_p,
    sin_p,
    sub_p,
)
from fx.prims.linalg import slogdet_p
from fx.prims.reductions import reduce_sum_p
from fx.prims.shape import broadcast_in_dim_p, reshape_p, transpose_p
from transforms import grad
from transforms.compiler.passes import cse, dce, fold_constants, optimize, simplify

RNG = np.random.default_rng(0)


def _prim(name, **kw):
    """A test primitive, kept out of the registry (whose tests cover the library's own)."""
    prim = Primitive(name, impl=lambda x, **p: x.copy(), abstract_eval=lambda a, **p: a, **kw)
    del PRIMITIVES[name]
    return prim


effect_p = _prim("test_passes_effect", effect=True)   # stands for a print: one output
call_p = _prim("test_passes_call")                    # carries a sub-graph in ``body``


def var(shape=(3,), dtype="float64", weak=False):
    return Var(ShapedArray(shape, dtype, weak))


def rand(shape=(3,), dtype="float64"):
    return fx.asarray(RNG.standard_normal(shape).astype(dtype))


def prims(graph):
    return [e.prim for e in graph.eqns]


def same_results(before, after, args):
    """Both graphs give identical outputs: values bit for bit, dtypes and shapes."""
    want, got = eval_graph(before, args), eval_graph(after, args)
    assert len(want) == len(got)
    for w, g in zip(want, got):
        w, g = np.asarray(w), np.asarray(g)
        assert (w.dtype, w.shape) == (g.dtype, g.shape)
        assert w.tobytes() == g.tobytes()


def staged(fun, *args):
    """The graph ``jit`` optimises: closed-over constants inlined into the equations."""
    graph, consts, _ = make_graph_flat(fun, [a.aval for a in args])
    env = {id(v): c for v, c in zip(graph.invars, consts)}
    eqns = [Eqn(e.prim, [env.get(id(x), x) if type(x) is Var else x for x in e.inputs],
                e.params, e.outvars) for e in graph.eqns]
    return Graph(graph.invars[len(consts):], eqns,
                 [env.get(id(v), v) if type(v) is Var else v for v in graph.outvars])


# --- dce -----------------------------------------------------------------------------------
def test_dce_drops_dead_chains_and_keeps_values():
    g = fx.make_graph(lambda x: (fnp.cos(fnp.sin(x) * 2.0), fnp.exp(x))[1])(rand())
    out = dce(g)
    assert prims(out) == [PRIMITIVES["exp"]] and len(g.eqns) == 4
    same_results(g, out, [rand()])


def test_dce_keeps_effects_and_what_they_read():
    x, y, z, w = var(), var(), var(), var()
    g = Graph([x], [Eqn(sin_p, [x], {}, [y]), Eqn(effect_p, [y], {}, [z]),
                    Eqn(cos_p, [x], {}, [w])], [x])
    assert prims(dce(g)) == [sin_p, effect_p]


def test_dce_keeps_subgraph_with_effect():
    a, b = var(), var()
    body = Graph([a], [Eqn(effect_p, [a], {}, [b])], [b])
    pure = Graph([a], [Eqn(sin_p, [a], {}, [b])], [b])
    x, y, z = var(), var(), var()
    g = Graph([x], [Eqn(call_p, [x], {"body": body}, [y]),
                    Eqn(call_p, [x], {"body": (pure,)}, [z])], [x])
    assert [e.params for e in dce(g).eqns] == [{"body": body}]


def test_outputs_that_are_inputs_constants_or_zero():
    x, y = var(), var()
    c = np.ones(3)
    g = Graph([x], [Eqn(sin_p, [x], {}, [y])], [x, 2.0, c, None])
    for p in (dce, cse, fold_constants, simplify, optimize):
        out = p(g)
        assert len(out.eqns) == (0 if p in (dce, optimize) else 1)
        assert out.outvars[0] is x and out.outvars[1] == 2.0 and out.outvars[2] is c
        assert out.outvars[3] is None and out.invars == [x]


# --- cse -----------------------------------------------------------------------------------
def test_cse_merges_and_renames_transitively():
    g = fx.make_graph(lambda x: fnp.cos(fnp.sin(x)) * fnp.cos(fnp.sin(x)))(rand())
    out = cse(g)
    assert len(g.eqns) == 5 and len(out.eqns) == 3
    assert out.eqns[-1].inputs[0] is out.eqns[-1].inputs[1]
    same_results(g, out, [rand()])


def test_cse_different_params_or_constants_are_not_merged():
    x = var((2, 3))
    outs = [var(()), var(()), var((3,)), var((3,))]
    g = Graph([x], [Eqn(reduce_sum_p, [x], {"axes": (0, 1)}, [outs[0]]),
                    Eqn(reduce_sum_p, [x], {"axes": (1, 0)}, [outs[1]]),
                    Eqn(reduce_sum_p, [x], {"axes": (0,)}, [outs[2]]),
                    Eqn(reduce_sum_p, [x], {"axes": (0,)}, [outs[3]])], outs)
    assert len(cse(g).eqns) == 3
    x, big = var(), var((5000,))
    inputs = [2.0, 2, -0.0, 0.0, np.float64(2.0), np.ones(3), np.array(2.0), np.ones(3, "f4")]
    eqns = [Eqn(mul_p, [x, c], {}, [var()]) for c in inputs]
    eqns += [Eqn(mul_p, [big, np.ones(5000)], {}, [var((5000,))]) for _ in range(2)]
    g = Graph([x, big], eqns, [e.outvars[0] for e in eqns])
    assert len(cse(g).eqns) == len(eqns)  # by type, sign of zero, large arrays by identity
    same_results(g, cse(g), [rand(), rand((5000,))])


def test_cse_merges_equal_numbers_and_arrays():
    x, c = var(), np.full(3, 2.0)
    inputs = [2.0, 2.0, np.float64(3.0), np.float64(3.0), c, c, fx.asarray(c), np.full(3, 2.0),
              np.full(3, -0.0), np.full(3, 0.0)]
    eqns = [Eqn(mul_p, [x, k], {}, [var()]) for k in inputs]
    g = Graph([x], eqns, [e.outvars[0] for e in eqns])
    out = cse(g)
    assert len(out.eqns) == 5
    assert out.outvars[0] is out.outvars[1] and out.outvars[4] is out.outvars[7]
    same_results(g, out, [rand()])


def test_cse_never_merges_effects():
    x, y, z = var(), var(), var()
    g = Graph([x], [Eqn(effect_p, [x], {}, [y]), Eqn(effect_p, [x], {}, [z])], [y, z])
    assert len(cse(g).eqns) == 2


def test_cse_multiple_results():
    x = var((2, 2))
    outs = [var(()), var(()), var(()), var(())]
    g = Graph([x], [Eqn(slogdet_p, [x], {}, outs[:2]), Eqn(slogdet_p, [x], {}, outs[2:])], outs)
    out = cse(g)
    assert len(out.eqns) == 1 and out.outvars[2:] == out.outvars[:2]
    same_results(g, out, [rand((2, 2))])


def test_cse_merges_random_bits_of_one_key():
    def f(k):
        return random.uniform(k, (3,)) + random.uniform(k, (3,))
    key = random.key(0)
    g = staged(f, key)
    out = optimize(g)
    assert len(out.eqns) <= len(g.eqns) // 2 + 2
    same_results(g, out, [key])
    np.testing.assert_array_equal(np.asarray(eval_graph(out, [key])[0]), np.asarray(f(key)))


# --- fold_constants ------------------------------------------------------------------------
def test_fold_chain_of_constants():
    x, y, z, w = var(dtype="float32"), var(dtype="float32"), var(dtype="float32"), var(
        dtype="float32")
    a = fx.asarray(np.arange(3, dtype=np.float32))
    g = Graph([x], [Eqn(sin_p, [a], {}, [y]), Eqn(mul_p, [y, 3.0], {}, [z]),
                    Eqn(add_p, [x, z], {}, [w])], [w, z])
    out = fold_constants(g)
    assert prims(out) == [add_p]
    folded = out.outvars[1]
    assert type(folded) is np.ndarray and folded.dtype == np.float32
    assert folded.tobytes() == np.asarray(fnp.sin(a) * 3.0).tobytes()  # as eagerly
    same_results(g, out, [rand(dtype="float32")])


def test_fold_keeps_numpy_scalars_as_eager_does():
    y = var((), "float32")
    g = Graph([], [Eqn(add_p, [np.float32(1.5), np.float32(2.0)], {}, [y])], [y])
    (res,) = fold_constants(g).outvars
    assert type(res) is type(add_p.bind(np.float32(1.5), np.float32(2.0))._buffer())
    assert res == np.float32(3.5)


def test_fold_leaves_what_must_run_at_run_time():
    x, big = var(), var((2_000_000,))
    one = [var() for _ in range(4)]
    body = Graph([x], [], [x])
    c = np.ones(3)
    eqns = [Eqn(effect_p, [c], {}, [one[0]]),                          # an effect
            Eqn(call_p, [c], {"body": body}, [one[1]]),                # a sub-graph
            Eqn(div_p, [c, np.zeros(3)], {}, [one[2]]),                # warns (divide by 0)
            Eqn(reshape_p, [c], {"new_sizes": (3,)}, [var((4,))]),    # fails: wrong type
            Eqn(neg_p, [2.0], {}, [var((), "float64", weak=True)]),   # weakly typed result
            Eqn(broadcast_in_dim_p, [1.0], {"shape": (2_000_000,),   # too large
                                            "broadcast_dimensions": ()}, [big]),
            Eqn(mul_p, [x, c], {}, [one[3]])]                          # reads a variable
    g = Graph([x], eqns, [e.outvars[0] for e in eqns])
    assert len(fold_constants(g).eqns) == len(eqns)


# --- simplify ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_simplify_neutral_elements(dtype):
    def f(x):
        return (((1.0 * x * 1.0) / 1.0 - 0.0) + -0.0) * fnp.ones(3, dtype)
    x = rand(dtype=dtype)
    g = staged(f, x)
    out = dce(simplify(g))
    assert out.eqns == [] and out.outvars == g.invars
    same_results(g, out, [x])


def test_simplify_negative_zero_input_stays_exact():
    x = fx.asarray(np.array([-0.0, 0.0, np.inf, np.nan]))
    g = staged(lambda x: (x - 0.0) + -0.0, x)
    assert dce(simplify(g)).eqns == []
    same_results(g, simplify(g), [x])


def test_simplify_plus_positive_zero_respects_signed_zeros():
    x = fx.asarray(np.array([-0.0, 1.0]))
    g = staged(lambda x: x + 0.0, x)
    assert simplify(g).eqns == g.eqns                     # -0.0 + 0.0 is 0.0
    assert simplify(g, signed_zeros=False).eqns == []
    i = fx.asarray(np.arange(3, dtype=np.int32))
    gi = staged(lambda i: 0 + i + 0, i)
    assert dce(simplify(gi)).eqns == []
    same_results(gi, simplify(gi), [i])


def test_simplify_keeps_broadcasting_dtype_changes_and_times_zero():
    x, xi, z, y = var((3,)), var((3,), "int32"), var((3,), "complex128"), var((2, 3))
    eqns = [Eqn(mul_p, [x, np.ones((2, 3))], {}, [var((2, 3))]),     # broadcasts
            Eqn(add_p, [x, np.full((2, 3), -0.0)], {}, [var((2, 3))]),  # broadcasts too
            Eqn(mul_p, [xi, 1.0], {}, [var((3,), "float64")]),        # int * float
            Eqn(mul_p, [x, 0.0], {}, [var()]),                        # NaN * 0 is NaN
            Eqn(mul_p, [z, 1.0], {}, [var((3,), "complex128")]),      # (inf+0j) * 1
            Eqn(sub_p, [0.0, x], {}, [var()]),                        # 0 - x is -x
            Eqn(div_p, [1.0, x], {}, [var()])]
    g = Graph([x, xi, z, y], eqns, [e.outvars[0] for e in eqns])
    out = simplify(g)
    assert [e.inputs for e in out.eqns] == [e.inputs for e in eqns]


def test_simplify_zero_gradient_broadcast():
    x, zero, y = var((2, 3), "float32"), var((2, 3), "float32"), var((2, 3), "float32")
    for value, strict_removes in ((np.float32(-0.0), True), (np.float32(0.0), False)):
        bcast = Eqn(broadcast_in_dim_p, [np.array(value)],
                    {"shape": (2, 3), "broadcast_dimensions": ()}, [zero])
        g = Graph([x], [bcast, Eqn(add_p, [zero, x], {}, [y])], [y])
        assert (dce(simplify(g)).eqns == []) == strict_removes
        assert dce(simplify(g, signed_zeros=False)).eqns == []
        # folded first (as jit does), the zeros are a constant broadcast view
        assert (dce(optimize(g)).eqns == []) == strict_removes
        same_results(g, optimize(g), [rand((2, 3), "float32")])


def test_simplify_renames_later_uses():
    x, y, z = var(), var(), var()
    g = Graph([x], [Eqn(mul_p, [x, 1.0], {}, [y]), Eqn(sin_p, [y], {}, [z])], [z, y])
    out = simplify(g)
    assert prims(out) == [sin_p] and out.eqns[0].inputs == [x] and out.outvars[1] is x
    assert g.eqns[1].inputs == [y]  # the input graph is untouched


def test_simplify_transposes_compose():
    x = rand((2, 3, 4))
    g = fx.make_graph(lambda x: fnp.transpose(fnp.transpose(x, (1, 2, 0)), (1, 0, 2)))(x)
    out = dce(simplify(g))
    assert prims(out) == [transpose_p]
    assert out.eqns[0].params["permutation"] == (2, 1, 0)
    same_results(g, out, [x])
    g3 = fx.make_graph(lambda x: fnp.transpose(x.transpose(1, 2, 0), (2, 0, 1)).T.T)(x)
    assert dce(simplify(g3)).eqns == []
    same_results(g3, simplify(g3), [x])


def test_simplify_keeps_square_transposes():
    x = rand((3, 3))
    g = fx.make_graph(lambda x: (x.T, fnp.transpose(x.T.T, (1, 0))))(x)
    out = dce(simplify(g))
    assert prims(out) == [transpose_p] * 2
    same_results(g, out, [x])


def test_simplify_reshapes_broadcasts_casts():
    x = rand((2, 6))
    g = fx.make_graph(lambda x: x.reshape(3, 4).reshape(4, 3).reshape(12))(x)
    out = dce(simplify(g))
    assert prims(out) == [reshape_p] and out.eqns[0].inputs == g.invars
    same_results(g, out, [x])
    v, w = var((2, 6)), var((2, 6))
    for eqn in (Eqn(reshape_p, [v], {"new_sizes": (2, 6)}, [w]),
                Eqn(broadcast_in_dim_p, [v], {"shape": (2, 6), "broadcast_dimensions": (0, 1)},
                    [w]),
                Eqn(convert_element_type_p, [v], {"new_dtype": np.dtype("float64")}, [w])):
        assert simplify(Graph([v], [eqn], [w])).outvars == [v]
    g = fx.make_graph(lambda x: x.reshape(3, 4).reshape(2, 6))(x)
    assert dce(simplify(g)).eqns == []


def test_simplify_ignores_other_numbers():
    x = var((3,), "int8")
    eqns = [Eqn(p, [x, c], {}, [var((3,), "int8")]) for p, c in ((add_p, 300), (mul_p, 2))]
    assert len(simplify(Graph([x], eqns, [e.outvars[0] for e in eqns])).eqns) == 2


def test_simplify_keeps_casts_that_change_type():
    v, w, u = var((3,), "float32", weak=True), var((3,), "float32"), var((3,), "float64")
    eqns = [Eqn(convert_element_type_p, [v], {"new_dtype": np.dtype("float32")}, [w]),
            Eqn(convert_element_type_p, [w], {"new_dtype": np.dtype("float64")}, [u])]
    assert len(simplify(Graph([v], eqns, [w, u])).eqns) == 2


def test_simplify_double_negation():
    x = rand()
    g = fx.make_graph(lambda x: (fnp.negative(-x), -x))(x)
    out = dce(simplify(g))
    assert prims(out) == [neg_p] and out.outvars[0] is g.invars[0]
    same_results(g, out, [x])


# --- optimize ------------------------------------------------------------------------------
def loss(x):
    return fnp.sum(fnp.sin(x) * x + fnp.sin(x) * 1.0) + fnp.sum(x.T.T * 0.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_optimize_gradient_graph(dtype):
    x = rand((2, 3), dtype)
    g = staged(grad(loss), x)
    out = optimize(g)
    assert len(out.eqns) < len(g.eqns)
    assert transpose_p not in prims(out)
    same_results(g, out, [x])
    np.testing.assert_array_equal(np.asarray(eval_graph(out, [x])[0]),
                                  np.asarray(grad(loss)(x)))


def test_optimize_is_idempotent_and_pure():
    x = rand((2, 3))
    g = staged(grad(loss), x)
    before = repr(g)
    inputs = [list(e.inputs) for e in g.eqns]
    once = optimize(g)
    assert repr(optimize(once)) == repr(once)
    assert repr(g) == before and [list(e.inputs) for e in g.eqns] == inputs
    assert once is not g and once.invars == g.invars


def test_optimize_handles_long_graphs():
    x = var()
    eqns, prev = [], x
    for _ in range(5_000):
        a, b, c = var(), var(), var()
        eqns += [Eqn(sin_p, [prev], {}, [a]), Eqn(sin_p, [prev], {}, [b]),
                 Eqn(mul_p, [b, 1.0], {}, [c])]
        prev = c
    g = Graph([x], eqns, [prev])
    out = optimize(g)
    assert len(out.eqns) == 5_000 and prims(out) == [sin_p] * 5_000
