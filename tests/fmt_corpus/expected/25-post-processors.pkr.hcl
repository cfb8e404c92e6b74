build {
  sources = ["source.amazon-ebs.ubuntu"]

  post-processors {
    post-processor "vagrant" {
      keep_input_artifact = true
      provider_override   = "aws"
    }
    post-processor "shell-local" {
      inline = ["echo packaged"]
    }
  }

  post-processors {
    post-processor "manifest" {
      output = "manifest.json"
      custom_data = {
        commit = var.commit
      }
    }
    post-processor "checksum" {
      checksum_types = ["sha256", "md5"]
      output         = "packer_{{.BuildName}}_{{.ChecksumType}}.checksum"
    }
  }

  post-processor "compress" {
    output = "image.tar.gz"
  }
}
