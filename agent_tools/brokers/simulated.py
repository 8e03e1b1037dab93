"""The simulated broker: every checked order fills in full at the modelled price; the ledger is the account."""

from __future__ import annotations

from agent_tools.brokers.base import BrokerAccount, Fill
from agent_tools.risk.base import OrderContext


class SimulatedBroker:
    """Fills at the fill model's price with the fee model's commission, as priced when the order was checked.

    Used for replays, and with live market data for the `paper` broker (many models can share one data key).
    """

    name = "simulated"

    def execute(self, order: OrderContext, client_order_id: str, deadline: float | None = None) -> Fill:
        return Fill("filled", order.quantity, order.fill_price, order.fee, order_id=client_order_id)

    def account(self) -> BrokerAccount | None:
        return None
