"""Optimizers refuse what they cannot do, before doing any of it: a parameter listed twice
is refused at construction, and a step that cannot update one parameter raises before any
parameter (or any optimizer state) has changed."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.1),
    "SGD-momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "Adam": lambda ps: optim.Adam(ps, lr=0.1),
    "Adam-amsgrad": lambda ps: optim.Adam(ps, lr=0.1, amsgrad=True, weight_decay=0.1),
    "AdamW": lambda ps: optim.AdamW(ps, lr=0.1),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5, centered=True),
}


def _params(n=3):
    rng = np.random.default_rng(0)
    ps = [nn.Parameter(rng.standard_normal(s)) for s in [(2, 3), (3,), ()][:n]]
    for p in ps:
        p.grad = cr.tensor(np.ones(p.shape))
    return ps


# --- duplicates ------------------------------------------------------------------------------

DUPLICATES = {
    "same list": lambda p, q: [p, p],
    "same list, apart": lambda p, q: [p, q, p],
    "one group": lambda p, q: [{"params": [q, p, p]}],
    "two groups": lambda p, q: [{"params": [p, q]}, {"params": [p]}],
    "generator": lambda p, q: (t for t in [p, q, q]),
    "model twice": lambda p, q: [p, q] + [p, q],
}


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
@pytest.mark.parametrize("how", DUPLICATES.values(), ids=DUPLICATES.keys())
def test_a_parameter_listed_twice_is_refused(make, how):
    p, q = _params(2)
    with pytest.raises(ValueError, match="twice|more than one parameter group"):
        make(how(p, q))


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_add_param_group_refuses_a_parameter_it_has(make):
    p, q = _params(2)
    opt = make([p])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [q, p]})
    assert len(opt.param_groups) == 1
    with pytest.raises(ValueError, match="twice"):
        opt.add_param_group({"params": [q, q]})
    opt.add_param_group({"params": [q]})        # q on its own is fine
    assert len(opt.param_groups) == 2


def test_sgd_p_p_used_to_step_twice():
    # the reported reproduction: SGD([p, p]) moved p by 2 lr g
    p = nn.Parameter(np.array([1.0]))
    with pytest.raises(ValueError, match="positions 0 and 1"):
        optim.SGD([p, p], lr=0.5)


def test_shared_module_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    model = nn.Sequential(lin, nn.Tanh(), lin)      # weight sharing: parameters() lists once
    optim.Adam(model.parameters())


def test_malformed_groups():
    p, q = _params(2)
    with pytest.raises(TypeError, match="not a mix"):
        optim.SGD([p, {"params": [q]}], lr=0.1)
    with pytest.raises(ValueError, match="'params' entry"):
        optim.SGD([{"lr": 0.1}], lr=0.1)


# --- a step that cannot update one parameter -------------------------------------------------

def _read_only(ps, opt):
    ps[-1]._value.setflags(write=False)


def _read_only_view(ps, opt):
    ps[-1]._value = np.broadcast_to(np.zeros(()), ())


# t.grad = ... refuses these at assignment (tests/test_trust_errors.py); the optimizer still
# checks what it steps with, so each is written behind the setter here
def _grad_shape(ps, opt):
    ps[-1]._grad = cr.tensor(np.ones((4,)))


def _grad_complex(ps, opt):
    ps[-1]._grad = cr.tensor(np.ones(ps[-1].shape) * 1j)


def _grad_text(ps, opt):
    ps[-1]._grad = cr.Tensor._make(np.array(["x"] * ps[-1].size).reshape(ps[-1].shape), None, None)


def _grad_not_array(ps, opt):
    ps[-1]._grad = [1.0]


def _state_shape(ps, opt):
    opt.step()                                       # creates the state
    for k, v in opt.state[ps[0]].items():
        if isinstance(v, np.ndarray):
            opt.state[ps[0]][k] = np.zeros(v.shape + (2,))
            return
    pytest.skip("no array state")


def _group_lr(ps, opt):
    opt.param_groups[-1]["lr"] = "0.1"


def _group_lr_nan(ps, opt):
    opt.param_groups[-1]["lr"] = float("nan")


def _group_none(ps, opt):
    opt.param_groups[-1]["lr"] = None


BREAKS = {f.__name__[1:]: f for f in [_read_only, _read_only_view, _grad_shape, _grad_complex,
                                       _grad_text, _grad_not_array, _state_shape, _group_lr,
                                       _group_lr_nan, _group_none]}


def _snapshot(ps, opt):
    vals = [np.array(p._value, copy=True) for p in ps]
    vers = [p._version[0] for p in ps]
    state = {id(p): {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                     for k, v in opt.state.get(p, {}).items()} for p in ps}
    return vals, vers, state


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
@pytest.mark.parametrize("brk", BREAKS.values(), ids=BREAKS.keys())
def test_a_step_that_cannot_update_one_parameter_changes_none(make, brk):
    ps = _params()
    opt = make(ps)
    brk(ps, opt)
    vals, vers, state = _snapshot(ps, opt)
    with pytest.raises((ValueError, TypeError, cr.ShapeError)) as ei:
        opt.step()
    msg = str(ei.value)
    assert "nothing was updated" in msg and type(opt).__name__ in msg
    assert "\n" not in msg
    for p, v0, n0 in zip(ps, vals, vers, strict=True):
        np.testing.assert_array_equal(p._value, v0)
        assert p._version[0] == n0
    after = _snapshot(ps, opt)[2]
    for key in state:
        assert state[key].keys() == after[key].keys()
        for k in state[key]:
            np.testing.assert_array_equal(state[key][k], after[key][k])


def test_read_only_message_names_the_parameter():
    ps = _params()
    opt = optim.SGD(ps, lr=0.1)
    ps[1]._value.setflags(write=False)
    with pytest.raises(ValueError, match=r"parameter 1 \(group 0, shape \(3,\)\) is read-only"):
        opt.step()
    ps[1]._value.setflags(write=True)
    opt.step()                                       # fixed: the step goes through
    assert all(p._version[0] == 1 for p in ps)


def test_an_ndarray_grad_is_used():
    p = nn.Parameter(np.array([1.0, 2.0]))
    p.grad = np.array([1.0, 1.0])
    opt = optim.SGD([p], lr=0.5)
    opt.step()
    np.testing.assert_array_equal(p._value, [0.5, 1.5])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, [0.0, 0.0])


def test_load_state_dict_refuses_wrong_shapes_and_indices():
    ps = _params()
    opt = optim.Adam(ps, lr=0.1)
    opt.step()
    sd = opt.state_dict()
    bad = {"state": {0: {**sd["state"][0], "exp_avg": np.zeros((5,))}},
           "param_groups": sd["param_groups"]}
    with pytest.raises(ValueError, match="exp_avg.*shape"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="parameter 7"):
        opt.load_state_dict({"state": {7: {}}, "param_groups": sd["param_groups"]})
    opt.load_state_dict(sd)                          # the real one still loads
    opt.step()


@pytest.mark.parametrize("make,err", [
    (lambda ps: optim.SGD(ps, lr=float("inf")), ValueError),
    (lambda ps: optim.SGD(ps, lr=float("nan")), ValueError),
    (lambda ps: optim.SGD(ps, lr="0.1"), TypeError),
    (lambda ps: optim.SGD(ps, lr=None), TypeError),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5), ValueError),
    (lambda ps: optim.SGD(ps, lr=0.1, dampening=float("nan")), ValueError),
    (lambda ps: optim.Adam(ps, lr=-1e-3), ValueError),
    (lambda ps: optim.Adam(ps, eps=float("inf")), ValueError),
    (lambda ps: optim.Adam(ps, betas=0.9), ValueError),
    (lambda ps: optim.Adam(ps, betas=(0.9,)), ValueError),
    (lambda ps: optim.Adam(ps, betas=(0.9, float("nan"))), ValueError),
    (lambda ps: optim.Adam(ps, betas=("a", 0.9)), ValueError),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.1), ValueError),
    (lambda ps: optim.RMSprop(ps, alpha=float("nan")), ValueError),
    (lambda ps: optim.RMSprop(ps, lr=True), TypeError),
])
def test_bad_options_are_refused_at_construction(make, err):
    with pytest.raises(err, match="Invalid"):
        make(_params())
