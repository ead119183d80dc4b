"""Organisation keys: the offline recovery key pair and key grants."""
