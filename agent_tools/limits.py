"""Trading limits for one model, set globally in config and overridden per model; immutable once a session starts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    fractional: bool = Field(False, description="allow fractional share quantities (4 decimals)")
    max_position_weight: float | None = Field(0.25, gt=0, le=1, description="largest weight of one symbol after a buy")
    max_order_value: float | None = Field(None, gt=0, description="largest notional of one order, dollars")
    max_trades_per_session: int | None = Field(20, gt=0, description="fills allowed in one session")
    max_drawdown: float | None = Field(None, gt=0, lt=1, description="beyond this drawdown from peak equity only sells")
