"""Price per segment by country, and the cost of a message for an audience.

Gateways bill every segment. Prices vary by destination country and change often, so the package
never hard-codes a real tariff: every function takes a ``prices`` mapping (ISO 3166-1 alpha-2
country -> price of one segment, with a ``"default"`` entry), normally read from the project
settings. :data:`DEFAULT_PRICES` is only an example of the shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "DEFAULT_PRICES",
    "CostEstimate",
    "MissingPriceError",
    "price_per_segment",
    "estimate_cost",
]

#: Example price of one outbound segment by destination country, in the settings' currency.
#: Illustrative orders of magnitude (France about 0.045 EUR, United States about 0.0083 USD per
#: segment), not quotes: pass your own table from the settings.
DEFAULT_PRICES: Final[Mapping[str, float]] = MappingProxyType(
    {"FR": 0.045, "US": 0.0083, "default": 0.05}
)


class MissingPriceError(KeyError):
    """No price for a country and no ``"default"`` entry in the price table."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the sentence readable
        return str(self.args[0])


@dataclass(frozen=True)
class CostEstimate:
    """Cost of sending one message body to an audience.

    Attributes
    ----------
    country
        Country whose price was used (upper case, or ``"default"``).
    segments_per_message
        Billed segments of one message.
    price_per_segment
        Price of one segment.
    audience_size
        Number of recipients.
    cost_per_message
        ``segments_per_message × price_per_segment``.
    total_cost
        ``cost_per_message × audience_size``.
    total_segments
        ``segments_per_message × audience_size``.
    """

    country: str
    segments_per_message: int
    price_per_segment: float
    audience_size: int
    cost_per_message: float
    total_cost: float
    total_segments: int


def price_per_segment(country: str | None, prices: Mapping[str, float] = DEFAULT_PRICES) -> float:
    """Price of one segment to ``country``, falling back to the ``"default"`` entry.

    Parameters
    ----------
    country
        ISO 3166-1 alpha-2 code (case-insensitive), ``"default"`` or ``None``.
    prices
        Price per segment by country, with a ``"default"`` key.

    Returns
    -------
    float
        The country's price, else the default price.

    Raises
    ------
    MissingPriceError
        If neither the country nor ``"default"`` is in ``prices``.

    Examples
    --------
    >>> price_per_segment("fr"), price_per_segment("BE")
    (0.045, 0.05)
    """
    key = (country or "default").strip()
    key = key if key == "default" else key.upper()
    if key in prices:
        return float(prices[key])
    if "default" in prices:
        return float(prices["default"])
    raise MissingPriceError(
        f"prices has no entry for country {key!r} and no 'default' entry; add "
        f"{{'{key}': <price per segment>}} or a 'default' price to the price table."
    )


def estimate_cost(
    segments_per_message: int,
    *,
    country: str | None = "default",
    audience_size: int = 1,
    prices: Mapping[str, float] = DEFAULT_PRICES,
) -> CostEstimate:
    """Campaign cost: segments × price per segment × recipients.

    Parameters
    ----------
    segments_per_message
        Billed segments of one message (``MessageInfo.segments_count``).
    country
        Destination country for the price.
    audience_size
        Number of recipients (≥ 0).
    prices
        Price per segment by country with a ``"default"`` key.

    Returns
    -------
    CostEstimate

    Raises
    ------
    ValueError
        If ``audience_size`` or ``segments_per_message`` is negative.

    Examples
    --------
    >>> estimate_cost(2, country="FR", audience_size=1000).total_cost
    90.0
    """
    if audience_size < 0:
        raise ValueError(f"audience_size must be >= 0, got {audience_size}.")
    if segments_per_message < 0:
        raise ValueError(f"segments_per_message must be >= 0, got {segments_per_message}.")
    price = price_per_segment(country, prices)
    key = (country or "default").strip()
    per_message = segments_per_message * price
    return CostEstimate(
        country=key if key == "default" else key.upper(),
        segments_per_message=segments_per_message,
        price_per_segment=price,
        audience_size=audience_size,
        cost_per_message=per_message,
        total_cost=round(per_message * audience_size, 10),
        total_segments=segments_per_message * audience_size,
    )
