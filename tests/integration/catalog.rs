//! The catalog, table-driven: for every kind, identifiers as they appear in real text must be
//! masked whole and by that kind; look-alikes must be left alone.

use maskgate::mask::catalog::CATALOG;
use maskgate::mask::{mask_text, Engine};

/// (text, [(original, kind)]) — the exact findings expected, in order.
const POSITIVES: &[(&str, &[(&str, &str)])] = &[
    (
        "stop i-0a1b2c3d4e5f67890 now",
        &[("i-0a1b2c3d4e5f67890", "ec2_instance")],
    ),
    (
        "--instance-ids i-1234abcd,i-0b1b2c3d4e5f67890",
        &[
            ("i-1234abcd", "ec2_instance"),
            ("i-0b1b2c3d4e5f67890", "ec2_instance"),
        ],
    ),
    (
        "\"InstanceId\": \"i-0a1b2c3d4e5f67890\",",
        &[("i-0a1b2c3d4e5f67890", "ec2_instance")],
    ),
    (
        "ImageId=ami-0abcdef1234567890",
        &[("ami-0abcdef1234567890", "ami")],
    ),
    (
        "vol-049df61146c4d7901 and snap-1234567890abcdef0",
        &[
            ("vol-049df61146c4d7901", "ebs_volume"),
            ("snap-1234567890abcdef0", "ebs_snapshot"),
        ],
    ),
    (
        "vpc-0e9801d1290a1b2c3/subnet-0bb1c79de3a1b2c3d",
        &[
            ("vpc-0e9801d1290a1b2c3", "vpc"),
            ("subnet-0bb1c79de3a1b2c3d", "subnet"),
        ],
    ),
    ("GroupId: sg-903004f8", &[("sg-903004f8", "security_group")]),
    (
        "eni-0e1f2a3b4c5d6e7f8 igw-c0a643a9 nat-05dba92075d71c408",
        &[
            ("eni-0e1f2a3b4c5d6e7f8", "eni"),
            ("igw-c0a643a9", "internet_gateway"),
            ("nat-05dba92075d71c408", "nat_gateway"),
        ],
    ),
    (
        "rtb-22574640 acl-5fb85d36 eipalloc-64d5890a",
        &[
            ("rtb-22574640", "route_table"),
            ("acl-5fb85d36", "network_acl"),
            ("eipalloc-64d5890a", "eip_allocation"),
        ],
    ),
    (
        "tgw-0262a0e5210a1b2c3 pcx-111aaa22",
        &[
            ("tgw-0262a0e5210a1b2c3", "transit_gateway"),
            ("pcx-111aaa22", "vpc_peering"),
        ],
    ),
    (
        "vpce-0a1b2c3d4e5f67890 tgw-attach-0a1b2c3d4e5f67890 lt-0a1b2c3d4e5f67890",
        &[
            ("vpce-0a1b2c3d4e5f67890", "other_ec2_resource"),
            ("tgw-attach-0a1b2c3d4e5f67890", "other_ec2_resource"),
            ("lt-0a1b2c3d4e5f67890", "other_ec2_resource"),
        ],
    ),
    (
        "sgr-0b1c2d3e4f5a67890 eni-attach-0123456789abcdef0 r-0a1b2c3d4e5f67890 fl-0123456789abcdef0",
        &[
            ("sgr-0b1c2d3e4f5a67890", "other_ec2_resource"),
            ("eni-attach-0123456789abcdef0", "other_ec2_resource"),
            ("r-0a1b2c3d4e5f67890", "other_ec2_resource"),
            ("fl-0123456789abcdef0", "other_ec2_resource"),
        ],
    ),
    (
        "\"KeyPairId\": \"key-0a1b2c3d4e5f67890\"",
        &[("key-0a1b2c3d4e5f67890", "other_ec2_resource")],
    ),
    (
        "\"GroupId\": \"sg-1234567890abcdefg\", \"SubnetId\": \"subnet-1234567890abcdefg\"",
        &[
            ("sg-1234567890abcdefg", "security_group"),
            ("subnet-1234567890abcdefg", "subnet"),
        ],
    ),
    (
        "aws s3 cp s3://acme-exports/2026/x.csv .",
        &[("acme-exports", "s3_bucket")],
    ),
    (
        "https://team-logs.s3.us-east-1.amazonaws.com/key",
        &[("team-logs", "s3_bucket")],
    ),
    (
        "https://s3.eu-west-1.amazonaws.com/archive-2026/key",
        &[("archive-2026", "s3_bucket")],
    ),
    (
        "upload to my-prod-data-bucket today",
        &[("my-prod-data-bucket", "s3_bucket")],
    ),
    (
        "aws s3api get-object --bucket team-reports --key a",
        &[("team-reports", "s3_bucket")],
    ),
    ("{\"Bucket\": \"finance\"}", &[("finance", "s3_bucket")]),
    (
        "https://my-bucket.s3.us-west-2.amazonaws.com/k",
        &[("my-bucket", "s3_bucket")],
    ),
    (
        "s3 = boto3.resource('s3'); s3.Bucket('acme-uploads').download_file(k, f)",
        &[("acme-uploads", "s3_bucket")],
    ),
    (
        "copy it to the bucket acme-exports-2026 now",
        &[("acme-exports-2026", "s3_bucket")],
    ),
    (
        "$ aws s3 ls\n2026-01-12 10:11:12 acme-terraform-state\n2026-02-01 08:00:00 acme-logs\n",
        &[
            ("acme-terraform-state", "s3_bucket"),
            ("acme-logs", "s3_bucket"),
        ],
    ),
    (
        "{\"Buckets\": [{\"Name\": \"finance\", \"CreationDate\": \"2026-01-12\"}, {\"Name\": \"acme-logs\"}], \"Owner\": {\"DisplayName\": \"me\"}}",
        &[("finance", "s3_bucket"), ("acme-logs", "s3_bucket")],
    ),
    (
        "arn:aws:lambda:us-east-1:123456789012:function:billing-export:PROD",
        &[(
            "arn:aws:lambda:us-east-1:123456789012:function:billing-export:PROD",
            "lambda_function",
        )],
    ),
    (
        "role arn:aws:iam::123456789012:role/DeployRole.",
        &[("arn:aws:iam::123456789012:role/DeployRole", "arn")],
    ),
    (
        "arn:aws-cn:ec2:cn-north-1:123456789012:instance/i-0a1b2c3d4e5f67890",
        &[(
            "arn:aws-cn:ec2:cn-north-1:123456789012:instance/i-0a1b2c3d4e5f67890",
            "arn",
        )],
    ),
    (
        "topic arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts",
        &[(
            "arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts",
            "arn",
        )],
    ),
    (
        "\"Account\": \"123456789012\",",
        &[("123456789012", "account_id")],
    ),
    (
        "Account ID: 1234-5678-9012",
        &[("1234-5678-9012", "account_id")],
    ),
    (
        "\"OwnerId\": \"210987654321\"",
        &[("210987654321", "account_id")],
    ),
    (
        "accounts: 111111111111, 222222222222",
        &[
            ("111111111111", "account_id"),
            ("222222222222", "account_id"),
        ],
    ),
    (
        "\"recipientAccountId\": \"210987654321\"",
        &[("210987654321", "account_id")],
    ),
    (
        "\"Principal\": {\"AWS\": [\"111122223333\", \"444455556666\"]}",
        &[
            ("111122223333", "account_id"),
            ("444455556666", "account_id"),
        ],
    ),
    (
        "https://sqs.us-east-1.amazonaws.com/123456789012/orders",
        &[("123456789012", "account_id"), ("orders", "sqs_queue")],
    ),
    (
        "AKIAIOSFODNN7EXAMPLE",
        &[("AKIAIOSFODNN7EXAMPLE", "access_key_id")],
    ),
    (
        "ASIAY34FZKBOKMUTVV7A is temporary",
        &[("ASIAY34FZKBOKMUTVV7A", "access_key_id")],
    ),
    (
        "\"RoleId\": \"AROA3XFRBF535PLBIFPI4\"",
        &[("AROA3XFRBF535PLBIFPI4", "iam_unique_id")],
    ),
    (
        "\"UserId\": \"AIDASAMPLEUSERID\"",
        &[("AIDASAMPLEUSERID", "iam_unique_id")],
    ),
    (
        "\"DbiResourceId\": \"db-5DBPEKBAWG6FNNZKOTEMZOAHYU\"",
        &[("db-5DBPEKBAWG6FNNZKOTEMZOAHYU", "rds_resource_id")],
    ),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        &[(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "secret_access_key",
        )],
    ),
    (
        "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        &[(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "secret_access_key",
        )],
    ),
    (
        "\"SecretAccessKey\": \"je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY\"",
        &[(
            "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
            "secret_access_key",
        )],
    ),
    (
        "key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        &[
            ("AKIAIOSFODNN7EXAMPLE", "access_key_id"),
            (
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "secret_access_key",
            ),
        ],
    ),
    (
        "10.0.12.34 172.16.5.4 192.168.1.10 172.31.255.255",
        &[
            ("10.0.12.34", "private_ipv4"),
            ("172.16.5.4", "private_ipv4"),
            ("192.168.1.10", "private_ipv4"),
            ("172.31.255.255", "private_ipv4"),
        ],
    ),
    (
        "CidrBlock 10.20.0.0/16 via 10.20.0.1:5432",
        &[
            ("10.20.0.0/16", "private_cidr"),
            ("10.20.0.1", "private_ipv4"),
        ],
    ),
    (
        "[ec2-user@ip-10-0-1-23 ~]$",
        &[("ip-10-0-1-23", "ec2_private_dns")],
    ),
    (
        "node ip-172-31-5-6.us-west-2.compute.internal Ready",
        &[(
            "ip-172-31-5-6.us-west-2.compute.internal",
            "ec2_private_dns",
        )],
    ),
    (
        "psql -h orders.c9akciq32abc.us-east-1.rds.amazonaws.com",
        &[(
            "orders.c9akciq32abc.us-east-1.rds.amazonaws.com",
            "rds_endpoint",
        )],
    ),
    (
        "redis://sessions.abc123.ng.0001.use1.cache.amazonaws.com:6379",
        &[(
            "sessions.abc123.ng.0001.use1.cache.amazonaws.com",
            "elasticache_endpoint",
        )],
    ),
    (
        "http://internal-api-1234567890.us-east-1.elb.amazonaws.com/health",
        &[(
            "internal-api-1234567890.us-east-1.elb.amazonaws.com",
            "elb_endpoint",
        )],
    ),
    (
        "server: https://A1B2C3D4E5F6A7B8C9D0.gr7.us-west-2.eks.amazonaws.com",
        &[(
            "A1B2C3D4E5F6A7B8C9D0.gr7.us-west-2.eks.amazonaws.com",
            "eks_endpoint",
        )],
    ),
    (
        "\"issuer\": \"https://oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF\"",
        &[(
            "oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF",
            "eks_endpoint",
        )],
    ),
    (
        "curl https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod",
        &[(
            "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
            "api_gateway_endpoint",
        )],
    ),
    (
        "https://d111111abcdef8.cloudfront.net/img.png",
        &[("d111111abcdef8.cloudfront.net", "cloudfront_domain")],
    ),
    (
        "docker push 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1",
        &[(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "aws_hostname",
        )],
    ),
    (
        "\"Id\": \"o-a1b2c3d4e5\", \"ParentId\": \"ou-ab12-cdef3456\", root r-ab12",
        &[
            ("o-a1b2c3d4e5", "organizations_id"),
            ("ou-ab12-cdef3456", "organizations_id"),
        ],
    ),
    (
        "\"InstanceId\": \"mi-0123456789abcdef0\"",
        &[("mi-0123456789abcdef0", "other_ec2_resource")],
    ),
    (
        "https://acme-uploads.s3.amazonaws.com/k?X-Amz-Credential=ASIAY34FZKBOKMUTVV7A%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEaCXVzLWVhc3QtMSJHMEUCIQD6example0SessionToken0Value0For0Docs%2BOnly0AAAA%3D&X-Amz-Signature=abc",
        &[
            ("acme-uploads", "s3_bucket"),
            ("ASIAY34FZKBOKMUTVV7A", "access_key_id"),
            (
                "IQoJb3JpZ2luX2VjEJr%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEaCXVzLWVhc3QtMSJHMEUCIQD6example0SessionToken0Value0For0Docs%2BOnly0AAAA%3D",
                "session_token",
            ),
        ],
    ),
    (
        "aws route53 list-resource-record-sets --hosted-zone-id Z1D633PJN98FT9",
        &[("Z1D633PJN98FT9", "route53_zone")],
    ),
    (
        "\"Id\": \"/hostedzone/Z05638961GH3KZSTKDH0\"",
        &[("Z05638961GH3KZSTKDH0", "route53_zone")],
    ),
    (
        "aws kms decrypt --key-id 1234abcd-12ab-34cd-56ef-1234567890ab",
        &[("1234abcd-12ab-34cd-56ef-1234567890ab", "kms_key")],
    ),
    (
        "mrk-1234abcd12ab34cd56ef1234567890ab",
        &[("mrk-1234abcd12ab34cd56ef1234567890ab", "kms_key")],
    ),
    // A label is trusted: the value it names is masked whatever its shape.
    (
        "\"SecretAccessKey\": \"shortish/Secret+Key9\",",
        &[("shortish/Secret+Key9", "secret_access_key")],
    ),
    (
        "AWS_SECRET_ACCESS_KEY=abcdefghijklmnopqrstu",
        &[("abcdefghijklmnopqrstu", "secret_access_key")],
    ),
    (
        "\"AccessKeyId\": \"LKIA0000UNUSUAL\"",
        &[("LKIA0000UNUSUAL", "access_key_id")],
    ),
    (
        "aws configure set x --access-key-id CUSTOMKEY123 --profile p",
        &[("CUSTOMKEY123", "access_key_id"), ("p", "aws_profile")],
    ),
    (
        "aws_session_token = FQoDYXdzEPT//////////wEaDNoPrefixHere",
        &[("FQoDYXdzEPT//////////wEaDNoPrefixHere", "session_token")],
    ),
    (
        "\"RoleArn\": \"not-really-an-arn/but-labelled\"",
        &[("not-really-an-arn/but-labelled", "arn")],
    ),
    (
        "\"TargetBucket\": \"acme-access-logs\", \"S3Bucket\": \"lambda-code\"",
        &[("acme-access-logs", "s3_bucket"), ("lambda-code", "s3_bucket")],
    ),
    // Account labels take their value whatever its shape.
    (
        "\"Owner\": {\"ID\": \"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be\"}, \"OwnerId\": \"acme-legacy-7\"",
        &[("acme-legacy-7", "account_id")],
    ),
    (
        "aws_account_id = acct-payments-prod\nSourceAccount: legacy-0042\n--account-id ORG-77-PAY",
        &[
            ("acct-payments-prod", "account_id"),
            ("legacy-0042", "account_id"),
            ("ORG-77-PAY", "account_id"),
        ],
    ),
    // Resource names, where a key, a flag, a Terraform attribute or an ARN says what they are.
    (
        "aws lambda invoke --function-name billing-export out.json",
        &[("billing-export", "lambda_function_name")],
    ),
    (
        "\"FunctionName\": \"Ledger\", \"Runtime\": \"python3.12\"",
        &[("Ledger", "lambda_function_name")],
    ),
    (
        "\"DBInstanceIdentifier\": \"payments-prod\", \"DBClusterIdentifier\": \"payments\"",
        &[("payments-prod", "rds_name"), ("payments", "rds_name")],
    ),
    (
        "aws rds describe-db-instances --db-instance-identifier orders-replica-2",
        &[("orders-replica-2", "rds_name")],
    ),
    (
        "RoleName: LedgerDeployer\n",
        &[("LedgerDeployer", "iam_role_name")],
    ),
    (
        "aws iam list-attached-role-policies --role-name ci-deployer",
        &[("ci-deployer", "iam_role_name")],
    ),
    (
        "\"UserName\": \"jane.doe\", \"PolicyName\": \"ledger-rw\"",
        &[("jane.doe", "iam_user_name"), ("ledger-rw", "iam_policy_name")],
    ),
    (
        "aws eks update-kubeconfig --region eu-west-1 --name payments-eks",
        &[("payments-eks", "cluster_name")],
    ),
    (
        "aws ecs describe-services --cluster checkout --services api",
        &[("checkout", "cluster_name")],
    ),
    (
        "{\"serviceName\": \"checkout-api\", \"clusterName\": \"shop-ecs\"}",
        &[("checkout-api", "ecs_service_name"), ("shop-ecs", "cluster_name")],
    ),
    (
        "aws cloudformation describe-stacks --stack-name ledger-network",
        &[("ledger-network", "cloudformation_stack")],
    ),
    (
        "aws dynamodb scan --table-name LedgerEntries",
        &[("LedgerEntries", "dynamodb_table")],
    ),
    (
        "QueueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/ledger-events.fifo.",
        &[("123456789012", "account_id"), ("ledger-events.fifo", "sqs_queue")],
    ),
    (
        "aws sns create-topic --name ledger-alerts",
        &[("ledger-alerts", "sns_topic")],
    ),
    (
        "{\"logGroupName\": \"/aws/lambda/billing-export\"}",
        &[("/aws/lambda/billing-export", "log_group")],
    ),
    (
        "\"AliasName\": \"alias/ledger-data\"",
        &[("alias/ledger-data", "kms_alias")],
    ),
    (
        "aws ecr describe-images --repository-name ledger/api",
        &[("ledger/api", "ecr_repository")],
    ),
    (
        "aws secretsmanager get-secret-value --secret-id prod/ledger/db",
        &[("prod/ledger/db", "secret_name")],
    ),
    (
        "\"KeyName\": \"ops-bastion-2024\"",
        &[("ops-bastion-2024", "key_pair")],
    ),
    (
        "\"AccountAliases\": [\"acme-payments-prod\"]",
        &[("acme-payments-prod", "account_alias")],
    ),
    (
        "\"Tags\": [{\"Key\": \"Name\", \"Value\": \"ledger bastion\"}]",
        &[("ledger bastion", "name_tag")],
    ),
    (
        "--tags Key=Name,Value=web-prod-1 Key=team,Value=core",
        &[("web-prod-1", "name_tag")],
    ),
    (
        "Tags:\n  - Key: Name\n    Value: ledger-worker\n",
        &[("ledger-worker", "name_tag")],
    ),
    (
        "TAGS\tName\tledger-nat\n",
        &[("ledger-nat", "name_tag")],
    ),
    (
        "resource \"aws_lambda_function\" \"export\" {\n  function_name = \"billing-export\"\n  role          = aws_iam_role.x.arn\n  tags = {\n    Name = \"billing\"\n  }\n}\n",
        &[("billing-export", "lambda_function_name"), ("billing", "name_tag")],
    ),
    (
        "  + resource \"aws_db_instance\" \"main\" {\n      + identifier = \"ledger-db\"\n      ~ name       = \"old\" -> \"new\"\n    }\n",
        &[("ledger-db", "rds_name")],
    ),
    (
        "the role arn:aws:iam::123456789012:role/ci/LedgerDeployer; LedgerDeployer again",
        &[
            ("arn:aws:iam::123456789012:role/ci/LedgerDeployer", "arn"),
            ("LedgerDeployer", "iam_role_name"),
        ],
    ),
    // Labelled public addresses, spread to their other mentions.
    (
        "\"PublicIpAddress\": \"54.210.167.204\"; ssh ec2-user@54.210.167.204",
        &[("54.210.167.204", "public_ip"), ("54.210.167.204", "public_ip")],
    ),
    (
        "\"CidrIp\": \"203.0.113.0/24\", \"Ipv6Address\": \"2600:1f18:4a3:6901::aa11\"",
        &[
            ("203.0.113.0/24", "public_ip"),
            ("2600:1f18:4a3:6901::aa11", "public_ip"),
        ],
    ),
    (
        "cidr_blocks = [\"198.51.100.0/24\", \"198.51.101.0/24\"]",
        &[("198.51.100.0/24", "public_ip"), ("198.51.101.0/24", "public_ip")],
    ),
    // Passwords and secret values by their label.
    (
        "\"MasterUserPassword\": \"Tr0ub4dor&3\", PGPASSWORD=hunter2xyz psql",
        &[("Tr0ub4dor&3", "password"), ("hunter2xyz", "password")],
    ),
    (
        "aws rds modify-db-instance --master-user-password 'n3w-Passw0rd'",
        &[("n3w-Passw0rd", "password")],
    ),
    // Every other resource: an ARN's resource part, an aws flag, an API key.
    (
        "arn:aws:kinesis:eu-west-1:123456789012:stream/clickstream-prod then clickstream-prod",
        &[
            ("arn:aws:kinesis:eu-west-1:123456789012:stream/clickstream-prod", "arn"),
            ("clickstream-prod", "aws_resource"),
        ],
    ),
    (
        "aws cloudfront get-distribution --distribution-id E2QWRUHAPOMQZL",
        &[("E2QWRUHAPOMQZL", "aws_resource")],
    ),
    (
        "aws ssm get-parameters --names /prod/a /prod/b --with-decryption",
        &[("/prod/a", "aws_resource"), ("/prod/b", "aws_resource")],
    ),
    (
        "{\"GroupName\": \"orders-web-sg\", \"RestApiId\": \"a1b2c3d4e5\"}",
        &[("orders-web-sg", "aws_resource"), ("a1b2c3d4e5", "aws_resource")],
    ),
    (
        "aws ec2 describe-instances --filters Name=tag:Name,Values=web-1,web-2",
        &[("web-1", "name_tag"), ("web-2", "name_tag")],
    ),
    (
        "terraform {\n  backend \"s3\" {\n    bucket         = \"acme-tfstate\"\n  }\n}",
        &[("acme-tfstate", "s3_bucket")],
    ),
    (
        "{\\\"bucketName\\\":\\\"acme-payroll\\\"}",
        &[("acme-payroll", "s3_bucket")],
    ),
    (
        "Account 1234 5678 9012 pays",
        &[("1234 5678 9012", "account_id")],
    ),
];

/// Text that looks like an identifier to a careless pattern and must stay as it is.
const NEGATIVES: &[&str] = &[
    "commit 3f786850e387550fdab836ed7e6dc881de23001b (short 3f78685)",
    "session 123e4567-e89b-12d3-a456-426614174000 started",
    "the i-node table; multi-threaded; hi-deadbeef; sg-1234; i-0a1b2c3d4e5f678901234",
    "version 1.2.3 and 10.2.3 and v10.0.0.1 and 10.0.0.1.5",
    "public 8.8.8.8, 172.32.0.1, 11.0.0.1, 192.169.1.1, 10.0.0.256",
    "order 123456789012 shipped at 1732531234567",
    "{\"device_id\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\",\"account_uuid\":\"1c2b3a4d-1111-2222-3333-444455556666\"}",
    "endpoints ec2.us-east-1.amazonaws.com sts.amazonaws.com s3.amazonaws.com bedrock-runtime.us-west-2.amazonaws.com",
    "aws s3api create-bucket and list-buckets; a bucket; resource aws_s3_bucket; delete-bucket-policy",
    "akiaiosfodnn7example is lowercase; Asia Pacific; AKIAIOSFODNN7EXAMPLE1234",
    "support@amazon.com wrote aGVsbG8gd29ybGQgdGhpcyBpcyBhIGxvbmcgYmFzZTY0IGJsb2IgdGhhdCBnb2VzIG9u",
    "see arn: the word, and https://docs.aws.amazon.com/ec2/",
    "a UUID near nothing: f47ac10b-58cc-4372-a567-0e02b2c3d479",
    "Bucket: the name of the bucket",
    "tsunami-deadbeef, anti-12345678",
    "auto-scaling, go-to, o-ring, o-notation-of-things, ou-est, co-owner, info-1234567890abc",
    "vpc-endpoint, r-squared, h-index, cluster-autoscaler, db-migration-2026, sg-1234567890abcdefgh, i-abcdefghijklmnopq",
    "the bucket policy; S3 bucket names; a bucket us-east-1; the bucket 2026",
    "2026-01-12 10:11:12 Deployment Started\n2026-01-12 10:11:12      52133 report.csv\nat 12:30:00 sharp",
    "AWS: the cloud. \"AWS\": \"amazon\"; AWS 123456789012 orders",
    "{\"Buckets\": []} and {\"Owner\": {\"DisplayName\": \"me\"}}",
    "\"SecretAccessKey\": \"STRING_VALUE\", \"SessionToken\": \"<token>\", \"AccessKeyId\": \"${KEY}\"",
    "aws_secret_access_key = ****************; aws_session_token = null",
    "learn: the basics; warn: low disk; the secret access key is rotated; AccessKeyIds: two",
    "\"SecretAccessKey\": \"short\"",
    // Name labels without a name after them, or words that only look like one.
    "\"FunctionName\": \"STRING_VALUE\", \"RoleName\": \"<role>\", \"TableName\": \"${TABLE}\"",
    "const functionName = handler.name; let clusterName = 'x'; serviceName: api",
    "FunctionName: !Ref Fn; StackName: !Sub '${AWS::StackName}-x'",
    "the function name is billing; --name-only; git log --name-status",
    "aws s3 cp --name x; docker run --name web-1 nginx",
    "name = \"billing-export\" outside any aws block",
    "resource \"google_storage_bucket\" \"x\" {\n  name = \"acme-data\"\n}",
    "{\"Key\": \"Environment\", \"Value\": \"prod\"} key: names",
    "\"AccountId\": \"prod\", \"OwnerId\": \"self\", account_id = STRING_VALUE, --account-id $ACCOUNT",
    // Shared addresses under a label, and addresses no label names.
    "\"CidrIp\": \"0.0.0.0/0\", \"CidrIpv6\": \"::/0\", \"PublicIp\": null, served from 93.184.216.34",
    // A program's password variables and the flags that read one from elsewhere.
    "password = getpass.getpass(); password: str = ''; \"password\": {\"type\": \"string\"}",
    "docker login --password-stdin; PASSWORD=${DB_PASSWORD}; password: <your-password>",
    // Other commands' flags; AWS's own metric names.
    "kubectl get pods --namespace kube-system; git log --author-name x",
    "aws cloudwatch get-metric-statistics --metric-name CPUUtilization --region us-east-1",
];

fn findings(engine: &Engine, text: &str) -> Vec<(String, String)> {
    let masked = mask_text(engine, text);
    let mut found: Vec<(String, String)> = Vec::new();
    // Walk the masked text's tokens in order; each maps back to one original and its kind.
    let mut rest = masked.output.as_str();
    while !rest.is_empty() {
        let next = masked
            .table
            .entries()
            .iter()
            .filter_map(|e| rest.find(e.token).map(|at| (at, e)))
            .min_by_key(|(at, e)| (*at, std::cmp::Reverse(e.token.len())));
        let Some((at, entry)) = next else { break };
        found.push((entry.original.to_owned(), entry.kind.to_owned()));
        rest = &rest[at + entry.token.len()..];
    }
    found
}

#[test]
fn every_kind_masks_its_identifiers_whole() {
    let engine = Engine::with_all_builtins();
    for (text, expected) in POSITIVES {
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(o, k)| ((*o).to_owned(), (*k).to_owned()))
            .collect();
        assert_eq!(findings(&engine, text), expected, "in {text:?}");
    }
}

#[test]
fn look_alikes_are_left_alone() {
    let engine = Engine::with_all_builtins();
    for text in NEGATIVES {
        let masked = mask_text(&engine, text);
        assert_eq!(masked.output, *text, "false positive");
    }
}

#[test]
fn every_kind_masks_its_own_example() {
    for kind in CATALOG {
        let only = Engine::new(|id| id == kind.id, &[]).expect("engine");
        let masked = mask_text(&only, kind.example);
        assert!(
            masked.counts.get(kind.id).is_some_and(|n| *n > 0),
            "{}: example {:?} not masked",
            kind.id,
            kind.example
        );
    }
}

#[test]
fn buckets_and_names_inside_an_arn_are_masked_when_arns_are_off() {
    let engine = Engine::new(|id| id != "arn", &[]).expect("engine");
    let masked = mask_text(&engine, "arn:aws:s3:::finance-archive/2026/*");
    assert_eq!(masked.output, "arn:aws:s3:::S3_BUCKET_001/2026/*");
    let engine = Engine::new(|id| id != "arn", &[]).expect("engine");
    let masked = mask_text(&engine, "arn:aws:iam::123456789012:role/x");
    assert_eq!(
        masked.output,
        "arn:aws:iam::AWS_ACCOUNT_001:role/IAM_ROLE_001"
    );
}

#[test]
fn custom_patterns_behave_like_built_ins() {
    let custom = maskgate::mask::CustomPattern {
        name: "ticket".into(),
        regex: r"\bOPS-\d{3,}\b".into(),
        token_prefix: "TICKET".into(),
    };
    let engine = Engine::new(|_| true, &[custom]).expect("engine");
    let input = "OPS-1234 on i-1234abcd and OPS-1234 again, TICKET_001 literal";
    let masked = mask_text(&engine, input);
    // The literal token-shaped text is masked too, so every token upstream is unambiguous.
    assert_eq!(
        masked.output,
        "TICKET_001 on EC2_INSTANCE_001 and TICKET_001 again, TICKET_002 literal"
    );
    let restorer = maskgate::restore::Restorer::new(&masked.table);
    assert_eq!(
        restorer.restore(&masked.output, maskgate::restore::Escaping::Raw),
        input
    );
}

#[test]
fn bad_custom_patterns_are_refused_with_a_reason() {
    let bad = |regex: &str, prefix: &str| {
        let custom = maskgate::mask::CustomPattern {
            name: "x".into(),
            regex: regex.into(),
            token_prefix: prefix.into(),
        };
        Engine::new(|_| true, &[custom])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(bad("(", "X").contains("does not compile"));
    assert!(bad("a*", "X").contains("empty string"));
    assert!(bad("abc", "lower").contains("must be upper-case"));
    assert!(bad("abc", "VPC").contains("already used"));
}

#[test]
fn runs_too_long_for_a_name_or_a_host_are_left_alone() {
    let engine = Engine::with_all_builtins();
    let long_name = format!("{}-data-bucket", "a".repeat(300));
    let long_host = format!("{}.s3.amazonaws.com", "b".repeat(300));
    for text in [long_name, long_host] {
        assert_eq!(mask_text(&engine, &text).output, text);
    }
    // A listing ends at the first bracket after its own: a name after it is not a listing's.
    let text = r#"{"Buckets": [{"Name": "acme-logs"}], "Other": [{"Name": "some-other-name"}]}"#;
    let masked = mask_text(&engine, text);
    assert!(
        masked.output.contains(r#""Name": "S3_BUCKET_001""#),
        "{}",
        masked.output
    );
    assert!(
        masked.output.contains("some-other-name"),
        "{}",
        masked.output
    );
}
