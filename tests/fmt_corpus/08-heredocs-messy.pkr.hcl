source "null" "heredocs" {
communicator = "none"
}
build {
    sources = ["source.null.heredocs"]
    provisioner "shell-local" {
    inline = [<<EOF
echo "not indented"
    echo "indented by four"
EOF
,
"echo second",
]
    }
    provisioner "shell-local" {
  environment_vars = ["A=1"]
        script_content = <<-EOT
      #!/bin/sh
      echo "${  build.name  }"   # a shell comment, not an HCL one
        echo "%{if true}yes%{endif}"
      EOT
  execute_command="sh -c '{{ .Vars }} {{ .Path }}'"
    }
    provisioner "file" {
      content = <<EOF
${upper( "interpolation spacing inside heredocs is normalised" )}
  $${literal} and %%{literal}
EOF
      destination   =   "/tmp/x"
    }
}
