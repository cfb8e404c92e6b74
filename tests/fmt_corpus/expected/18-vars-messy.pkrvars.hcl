region        = "eu-west-1"
instance_type = "t3.small"
ami_regions   = ["eu-central-1", "us-east-2"]
tags = {
  Owner = "platform-team"
  Env   = "staging"
}
# values below are for CI
build_number = 42
