"""Static files in production: hashed names and compressed copies (WhiteNoise)."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's storage, leaving source-map comments as they are.

    The vendored libraries (static/vendor) are copied unchanged from their packages without
    their source maps, which only a browser's developer tools ask for; Django would refuse
    to collect a file whose map is missing.
    """

    patterns = tuple(
        (glob, tuple(p for p in found if "sourceMappingURL" not in str(p)))
        for glob, found in CompressedManifestStaticFilesStorage.patterns
    )
