"""``chainrule.optim``: optimizers and learning-rate schedules with PyTorch's update rules.

    opt = optim.Adam(model.parameters(), lr=1e-3)
    opt.zero_grad(); loss.backward(); opt.step()
"""

from . import lr_scheduler
from ..nn.utils import clip_grad_norm_, clip_grad_value_
from .optimizer import Optimizer
from .optimizers import SGD, Adam, AdamW, RMSprop

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "clip_grad_norm_",
           "clip_grad_value_", "lr_scheduler"]
