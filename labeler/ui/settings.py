"""Constants of the browser UI, named in one place."""

from __future__ import annotations

PAGE_SIZE = 48  # images per grid page: never the whole project
KEYED_CLASSES = 9  # classes with a button and a number key (1-9); more go in a dropdown
SIMILAR_K = 48  # images listed by "More like this": the one asked about, then its neighbours
POLL_SECONDS = 10  # how often a page looks for labels given elsewhere (another expert, the CLI)
REVIEW_BATCH = 20  # suggestions fetched at once for the review queue
REVIEW_CLAIM_SECONDS = 600  # a card on a session's screen is not dealt to another for this long
# The next review card waits this long (seconds) for the refit of the label just given; a slower
# refit (a big project) goes on behind the card, drawn meanwhile with the predictions before it.
REVIEW_REFIT_WAIT = 1.0
RESCAN_NAMED = 3  # skipped files a rescan names beside the button (all are in skipped.csv)
PIXELATED_MAX_SIDE = 128  # images this small are upscaled with crisp pixels
THRESHOLD_DEFAULT = 0.9  # starting point of the trust slider
DEFAULT_ANNOTATOR = "expert"  # recorded when the server runs without --auth
IMAGE_ROUTE = "images"  # GET /images/<path relative to the images root>
WEB_IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"})
WEB_IMAGE_MAX_BYTES = 4_000_000  # larger files (or other formats) are sent as a PNG thumbnail
THUMBNAIL_SIDE = 1024
# Class colours, by class order. The first nine (the number keys) are Tableau 10's; the other
# eleven were picked one by one, among the Tableau 20, matplotlib tab20/tab20b and ColorBrewer
# colours, for the largest colour difference (CIEDE2000) from those before, from white and from
# UNLABELED_COLOUR. No grey: grey means unlabeled. Past 20 classes the map's marker shape changes.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#6a3d9a",
    "#843c39",
    "#9c9ede",
    "#b2df8a",
    "#f0027f",
    "#a6761d",
    "#bf5b17",
    "#637939",
    "#a0cbe8",
    "#9467bd",
    "#d7b5a6",
)
UNLABELED_COLOUR = "#c4c4c4"
