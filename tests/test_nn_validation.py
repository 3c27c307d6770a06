"""Layer sizes are integers in range: a float is not truncated into another layer."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

nn = cr.nn

BAD = [
    (lambda: nn.Linear(2.5, 3), TypeError, "Linear: in_features must be an integer, got 2.5"),
    (lambda: nn.Linear(2, 3.0), TypeError, "Linear: out_features must be an integer"),
    (lambda: nn.Linear(True, 3), TypeError, "in_features must be an integer, got True"),
    (lambda: nn.Linear(-1, 3), ValueError, "in_features must be at least 0, got -1"),
    (lambda: nn.Linear("2", 3), TypeError, "in_features must be an integer"),
    (lambda: nn.Conv2d(1, 1, 0), ValueError, "Conv2d: kernel_size must be a positive integer"),
    (lambda: nn.Conv2d(1, 1, (3, 2.0)), TypeError, "Conv2d: kernel_size must be an integer"),
    (lambda: nn.Conv2d(1, 1, 3, stride=0), ValueError, "Conv2d: stride must be a positive integer"),
    (lambda: nn.Conv2d(1, 1, 3, padding=-1), ValueError, "Conv2d: padding must be at least 0"),
    (lambda: nn.Conv2d(1, 1, 3, dilation=(1, 0)), ValueError, "dilation must be a positive integer"),
    (lambda: nn.Conv2d(1.0, 1, 3), TypeError, "Conv2d: in_channels must be an integer"),
    (lambda: nn.Conv2d(2, 2, 3, groups=0), ValueError, "Conv2d: groups must be a positive integer"),
    (lambda: nn.Conv2d(1, 1, (3, 3, 3)), ValueError, "kernel_size must be an int or a pair"),
    (lambda: nn.BatchNorm1d(0), ValueError, "BatchNorm1d: num_features must be a positive integer"),
    (lambda: nn.BatchNorm2d(3.5), TypeError, "BatchNorm2d: num_features must be an integer"),
    (lambda: nn.LayerNorm((2, 0)), ValueError, "LayerNorm: normalized_shape must be a positive integer"),
    (lambda: nn.LayerNorm(4.0), TypeError, "LayerNorm: normalized_shape must be an integer"),
    (lambda: nn.MaxPool2d(0), ValueError, "MaxPool2d: kernel_size must be a positive integer"),
    (lambda: nn.MaxPool2d(2, stride=1.5), TypeError, "MaxPool2d: stride must be an integer"),
]


@pytest.mark.parametrize("make, kind, msg", BAD, ids=[m for _, _, m in BAD])
def test_bad_sizes_are_refused_at_construction(make, kind, msg) -> None:
    with pytest.raises(kind, match=msg.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_good_sizes_still_build_the_same_layers() -> None:
    assert nn.Linear(np.int64(2), 3).weight.shape == (3, 2)
    assert nn.Linear(0, 3)(cr.tensor(np.ones((4, 0), np.float32))).shape == (4, 3)
    c = nn.Conv2d(2, 4, (3, 1), stride=(2, 1), padding=0, groups=2)
    assert c.weight.shape == (4, 1, 3, 1) and c.stride == (2, 1)
    assert nn.Conv2d(1, 1, 3, padding="same")(cr.tensor(np.ones((1, 1, 5, 5), np.float32))).shape \
        == (1, 1, 5, 5)
    assert nn.MaxPool2d(2)(cr.tensor(np.ones((1, 1, 4, 4)))).shape == (1, 1, 2, 2)
    assert nn.LayerNorm([2, 3]).normalized_shape == (2, 3)


@pytest.mark.parametrize("bs, kind", [(2.5, TypeError), (0, ValueError), (True, TypeError),
                                      ("2", TypeError)])
def test_loader_batch_size_is_a_positive_integer(bs, kind) -> None:
    ds = cr.data.TensorDataset(np.ones((4, 2)), np.zeros(4, np.int64))
    with pytest.raises(kind, match="DataLoader: batch_size must be"):
        cr.data.DataLoader(ds, batch_size=bs)  # 2.5 made batches of 2
    assert cr.data.DataLoader(ds, batch_size=np.int64(2)).batch_size == 2


@pytest.mark.parametrize("epochs, kind", [(2.5, TypeError), (-1, ValueError), ("3", TypeError)])
def test_fit_epochs_is_a_whole_number(epochs, kind) -> None:
    m = nn.Linear(2, 2)
    ds = cr.data.TensorDataset(np.ones((4, 2), np.float32), np.zeros(4, np.int64))
    with pytest.raises(kind, match="fit: epochs must be"):
        cr.fit(m, nn.CrossEntropyLoss(), cr.optim.SGD(m.parameters(), lr=0.1),
               cr.data.DataLoader(ds, batch_size=2), epochs=epochs, verbose=0)  # 2.5 ran 2


@pytest.mark.parametrize("make, kind, msg", [
    (lambda o: cr.optim.lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size"),
    (lambda o: cr.optim.lr_scheduler.StepLR(o, step_size=2.5), TypeError, "step_size"),
    (lambda o: cr.optim.lr_scheduler.StepLR(o, 2, gamma=float("nan")), ValueError, "gamma"),
    (lambda o: cr.optim.lr_scheduler.ExponentialLR(o, gamma=float("inf")), ValueError, "gamma"),
    (lambda o: cr.optim.lr_scheduler.MultiStepLR(o, [1.5]), TypeError, "milestones"),
    (lambda o: cr.optim.lr_scheduler.MultiStepLR(o, [2], gamma=-1.0), ValueError, "gamma"),
    (lambda o: cr.optim.lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
], ids=["step0", "step2.5", "gamma-nan", "gamma-inf", "milestone-float", "gamma-neg", "tmax0"])
def test_scheduler_settings_are_checked(make, kind, msg) -> None:
    # before: step_size=2.5 ran as 2, a NaN gamma made every later rate NaN, 0 divided by zero
    opt = cr.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(kind, match=msg):
        make(opt)
    assert opt.param_groups[0]["lr"] == 0.1
