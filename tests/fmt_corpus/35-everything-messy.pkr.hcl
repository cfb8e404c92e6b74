  packer{
required_plugins{
amazon={version=">= 1.2.8"
source="github.com/hashicorp/amazon"}
}
}
variable "region"{
default="us-east-1"
}
locals{
ami_name="web-${regex_replace(timestamp(),"[- TZ:]","")}"
   names=[for n in["a","b"]:upper(n)]   # trailing
        m={for k,v in{a=1}:k=>v}
}
source "amazon-ebs" "x"{
region=var.region
                ami_name=local.ami_name
instance_type="t3.micro"
tags={Name="x"
Env="dev"}
}
build{
sources=["source.amazon-ebs.x"]
provisioner "shell"{
inline=[<<EOF
echo hi
EOF
]
}
    }
