"""Traffic lanes: the priority classes that keep one-time passwords ahead of campaigns."""

from __future__ import annotations

import enum


class Lane(enum.StrEnum):
    OTP = "otp"
    NOTIFICATION = "notification"
    MARKETING = "marketing"
