"""Anonymous and lawyer submissions: the path testimony takes into Dokaz."""
