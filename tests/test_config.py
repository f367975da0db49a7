from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import pytest

from uaelab.config import Settings, active_profile, apply_overrides, register


@dataclass(frozen=True)
class Demo(Settings):
    K: int = 500  # pairs
    lr: float = 1e-3  # step size
    mode: Literal["random", "conv"] = "random"  # sampler
    sizes: tuple[int, ...] = (512, 10)  # hidden sizes
    limit: Optional[int] = None  # subset
    flag: bool = False  # a switch
    PROFILES = {"quick": {"K": 32}, "paper": {}}

    def validate(self) -> None:
        if self.K < 2:
            raise ValueError("K must be at least 2")


def test_profiles_and_overrides(monkeypatch):
    monkeypatch.delenv("UAELAB_PROFILE", raising=False)
    assert Demo.from_profile().K == 32  # quick is the default
    assert Demo.from_profile("paper").K == 500
    monkeypatch.setenv("UAELAB_PROFILE", "paper")
    assert Demo.from_profile().K == 500
    assert Demo.from_profile("quick", K=7).K == 7


def test_unknown_profile_and_field_raise(monkeypatch):
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        Demo.from_profile("fast")
    monkeypatch.setenv("UAELAB_PROFILE", "nope")
    with pytest.raises(ValueError, match="UAELAB_PROFILE"):
        active_profile()
    with pytest.raises(ValueError, match="no setting 'k'.*Did you mean 'K'"):
        Demo.from_profile("quick", k=3)
    with pytest.raises(ValueError, match="no setting"):
        Demo().replace(bogus=1)
    with pytest.raises(ValueError, match="at least 2"):
        Demo().replace(K=1)


def test_text_overrides_are_typed():
    d = Demo().with_overrides(["K=96", "lr=2e-5", "mode=conv", "sizes=256,8", "limit=none", "flag=true"])
    assert (d.K, d.lr, d.mode, d.sizes, d.limit, d.flag) == (96, 2e-5, "conv", (256, 8), None, True)
    assert Demo().with_overrides(["limit=10"]).limit == 10
    with pytest.raises(ValueError, match="not a valid int"):
        Demo().with_overrides(["K=many"])
    with pytest.raises(ValueError, match="not one of"):
        Demo().with_overrides(["mode=other"])
    with pytest.raises(ValueError, match="field=value"):
        Demo().with_overrides(["K"])


def test_apply_overrides_by_component():
    register("demo_component")(Demo)
    out = apply_overrides({"demo": Demo()}, ["demo.K=9"])
    assert out["demo"].K == 9
    with pytest.raises(ValueError, match="unknown settings component 'demi'"):
        apply_overrides({"demo": Demo()}, ["demi.K=9"])
    with pytest.raises(ValueError, match="no setting 'Q'"):
        apply_overrides({"demo": Demo()}, ["demo.Q=9"])


def test_roundtrip_dict():
    d = Demo.from_profile("quick", mode="conv")
    assert Demo.from_dict(d.to_dict()) == d
