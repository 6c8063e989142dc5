"""The ``forecasting:`` section of a forecasting use case: one model per series, typed.

    forecasting:
      method: fourier_arima        # sarimax (the source study's) | fourier_arima | seasonal_naive
      step_minutes: 15             # the lake's step
      resample_minutes: null       # 60: fit on hourly means (SARIMAX at s = 24)
      order: [1, 0, 1]
      seasonal_order: [1, 0, 1]    # sarimax only
      seasonal_period: 96          # steps per cycle at the fitted resolution (96 at 15 min, 24 hourly)
      fourier_terms: 10            # fourier_arima: sine/cosine pairs of the cycle as exogenous columns
      trend: c                     # statsmodels trend: c = intercept (null when differencing)
      regression: ols              # regressor coefficients by least squares, ARMA by MLE (8x faster); mle: all by MLE
      exogenous: [temperature, rain]
      min_points: 192              # fewer observed points: seasonal-naive fallback, flagged
      max_points: 20000            # a bigger group is an error naming its key (a group is held in memory)
      clip: [0.0, 1.0]

Kept free of Spark and statsmodels so the config can validate it at load time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

METHODS = ("sarimax", "fourier_arima", "seasonal_naive")


class ForecastingConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["sarimax", "fourier_arima", "seasonal_naive"] = "fourier_arima"
    step_minutes: int = Field(default=15, ge=1, le=1440)
    resample_minutes: int | None = Field(default=None, ge=1, le=1440)
    order: tuple[int, int, int] = (1, 0, 1)
    seasonal_order: tuple[int, int, int] = (1, 0, 1)
    seasonal_period: int = Field(default=96, ge=2, le=2000)
    fourier_terms: int = Field(default=10, ge=1, le=48)
    trend: Literal["n", "c", "t", "ct"] | None = "c"
    regression: Literal["ols", "mle"] = "ols"
    exogenous: tuple[str, ...] = ()
    min_points: int = Field(default=192, ge=2)
    max_points: int = Field(default=20_000, ge=10)
    clip: tuple[float, float] | None = (0.0, 1.0)
    maxiter: int = Field(default=200, ge=1, le=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> ForecastingConfig:
        if any(value < 0 or value > 5 for value in (*self.order, *self.seasonal_order)):
            raise ValueError("forecasting.order and seasonal_order take values from 0 to 5")
        fitted_step = self.resample_minutes or self.step_minutes
        if self.resample_minutes and (self.resample_minutes % self.step_minutes or self.resample_minutes <= self.step_minutes):
            raise ValueError(f"forecasting.resample_minutes ({self.resample_minutes}) must be a larger multiple "
                             f"of step_minutes ({self.step_minutes})")
        if (self.seasonal_period * fitted_step) % 60 and self.method != "seasonal_naive":
            raise ValueError(f"forecasting.seasonal_period {self.seasonal_period} at {fitted_step}-minute steps is not a "
                             "whole number of hours; 96 at 15 minutes or 24 at hourly steps is one day")
        if 2 * self.fourier_terms >= self.seasonal_period:
            raise ValueError("forecasting.fourier_terms must be below half the seasonal_period")
        if self.min_points > self.max_points:
            raise ValueError("forecasting.min_points must not exceed max_points")
        if self.clip is not None and not self.clip[0] < self.clip[1]:
            raise ValueError("forecasting.clip must be [low, high] with low < high")
        return self

    @property
    def fitted_step_minutes(self) -> int:
        return self.resample_minutes or self.step_minutes
