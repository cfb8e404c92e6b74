locals {
  as_argument = trimspace(<<EOF
  kept exactly
    as written
EOF
  )
  two = [<<A
first
A
    , <<B
second
B
  ]
  in_object = {
    script = <<-SCRIPT
      set -e
      echo "${var.name}"
    SCRIPT
    after = "aligned with script?"
  }
  indented_marker = <<EOT
body
    EOT
  directives = <<EOT
%{ for s in var.servers ~}
server ${s.name} ${s.ip}
%{ endfor ~}
EOT
  after_all = 1
}
