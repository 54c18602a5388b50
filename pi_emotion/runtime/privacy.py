"""What the privacy settings allow, decided before anything opens.

``--privacy aggregate`` means no picture leaves the appliance and no per-face data
either: outputs that only exist to carry pictures are refused with a message, the browser
view keeps its page, status and metrics but serves no video, snapshot or per-face
events, and the events file and MQTT carry per-interval aggregates.
"""

from __future__ import annotations

from pi_emotion.errors import UserError


def aggregates_only(settings) -> bool:
    return settings.privacy == "aggregate"


def check(settings) -> None:
    """Refuse settings that would send a picture out in the aggregates-only mode."""
    if not aggregates_only(settings):
        return
    if settings.output:
        raise UserError("--privacy aggregate: no picture leaves the appliance, so it cannot record video; "
                        "remove --output (or use --blur-faces with --privacy standard)")
    if settings.display not in ("", "none"):
        raise UserError("--privacy aggregate: no picture leaves the appliance, so it cannot show one; "
                        "use --display none")
