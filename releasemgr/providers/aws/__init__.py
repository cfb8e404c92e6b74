"""The `aws` provider: the amazon-ebs builder, AMI store (prune) and garbage collection of
what killed builds left behind. boto3 is imported only here."""
