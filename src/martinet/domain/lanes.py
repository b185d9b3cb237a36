"""Traffic lanes: the priority classes that keep one-time passwords ahead of campaigns."""

from __future__ import annotations

import enum


class Lane(enum.StrEnum):
    OTP = "otp"
    NOTIFICATION = "notification"
    MARKETING = "marketing"


#: Bounds of a send's own validity, in seconds: long enough for a carrier to try once, at most three days.
MIN_VALIDITY = 60
MAX_VALIDITY = 259_200
