"""The region hierarchy: district → street → community → grid."""
