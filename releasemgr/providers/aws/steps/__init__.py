"""The amazon-ebs builder's steps, one concern per module (as in Packer's amazon plugin)."""
