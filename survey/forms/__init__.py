"""The XLSForms we ship for field teams (KoBoToolbox, ODK), and their builder."""
