//! Whole outputs as a user's tools print them — the AWS CLI (with the example IDs of AWS's
//! documentation, which users paste too), a CloudTrail event, a bucket policy, shell sessions
//! with kubectl, terraform, Lambda, EKS, ECS, Organizations and credentials files — in
//! `tests/fixtures/real-world/`. Every
//! identifier in them must be masked (as some kind), the text must come back byte for byte,
//! and the words around them (unlabelled public addresses, regions, dates, request IDs) must
//! stay; a public address under a label that says whose it is (`PublicIpAddress`,
//! `sourceIPAddress`) is masked.

use maskgate::mask::{mask_json, mask_text, Engine};
use maskgate::restore::{Escaping, Restorer};

struct Fixture {
    file: &'static str,
    masked: &'static [&'static str],
    kept: &'static [&'static str],
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        file: "ec2-describe-instances.json",
        masked: &[
            "ami-0abcdef1234567890",
            "i-1234567890abcdef0",
            "ip-10-0-0-157.us-east-2.compute.internal",
            "10.0.0.157",
            "subnet-04a636d18e83cfacb",
            "vpc-1234567890abcdef0",
            "vol-02e6ccdca7de29cf2",
            "arn:aws:iam::111111111111:instance-profile/AmazonSSMRoleForInstancesQuickSetup",
            "eni-attach-1234567890abcdefg",
            "sg-1234567890abcdefg",
            "eni-1234567890abcdefg",
            "104024344472",
            "subnet-1234567890abcdefg",
            "vpc-1234567890abcdefg",
            "sg-0a1b2c3d4e5f67890",
            "111111111111",
            "r-1234567890abcdef0",
            // An instance's public address, labelled PublicIpAddress / PublicIp.
            "34.253.223.13",
            // A security group's name, labelled GroupName.
            "launch-wizard-146",
        ],
        kept: &[
            "us-east-2a",
            "1234abcd-1234-abcd-1234-d46a8903e9bc",
            "2022-11-15T10:48:59+00:00",
            "00:11:22:33:44:55",
        ],
    },
    Fixture {
        file: "cloudtrail-event.json",
        masked: &[
            "AROAEXAMPLEROLEID12",
            "arn:aws:sts::123456789012:assumed-role/Admin/jane.doe",
            "123456789012",
            "ASIAEXAMPLEKEY123456",
            "arn:aws:iam::123456789012:role/Admin",
            "i-0a1b2c3d4e5f67890",
            "210987654321",
            // The caller's address, labelled sourceIPAddress.
            "203.0.113.5",
        ],
        kept: &[
            "\"ec2.us-east-1.amazonaws.com\"",
            "\"us-east-1\"",
            "4f5e6d7c-8b9a-4c3d-2e1f-0a9b8c7d6e5f",
            "aws-cli/2.13.0",
        ],
    },
    Fixture {
        file: "bucket-policy.json",
        masked: &[
            "111122223333",
            "arn:aws:s3:::example-bucket/*",
            "444455556666",
            "vpce-1a2b3c4d",
            "777788889999",
            "arn:aws:iam::222233334444:root",
        ],
        kept: &["2012-10-17", "s3:GetObject", "sts:AssumeRole", "\"AWS\""],
    },
    Fixture {
        file: "shell-session.txt",
        masked: &[
            "AIDASAMPLEUSERID",
            "123456789012",
            "arn:aws:iam::123456789012:user/DevAdmin",
            "acme-terraform-state",
            "acme-prod-logs",
            "cf-templates-1a2b3c4d5e6f-us-east-1",
            "amzn-s3-demo-bucket1",
            "acme-data-exports",
            "acme-web-assets",
            "my-company-data-lake-raw",
            "210987654321",
            "my-site-bucket",
            "my-bucket",
            "sg-0a1b2c3d4e5f67890",
            "sgr-0b1c2d3e4f5a67890",
            "prod-db.cx1y2z3abcde.us-east-1.rds.amazonaws.com",
            "Z2R2ITUGPM61AM",
            "arn:aws:rds:us-east-1:123456789012:db:prod-db",
            "db-5DBPEKBAWG6FNNZKOTEMZOAHYU",
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "ip-192-168-12-34.us-west-2.compute.internal",
            "i-0fedcba9876543210",
            "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6-1234567890.us-west-2.elb.amazonaws.com",
            "arn:aws:eks:us-west-2:123456789012:cluster/prod-cluster",
            "123456789012.dkr.ecr.eu-central-1.amazonaws.com",
            "eni-0a1b2c3d4e5f67890",
            "10.0.1.5",
            "10.0.2.7",
            "i-0f1e2d3c4b5a69788",
            "subnet-0a9b8c7d6e5f43210",
            "nat-0a1b2c3d4e5f67890",
            "10.0.0.0/16",
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "10.20.30.40",
            "i-0123456789abcdef0",
        ],
        kept: &[
            "summary-2023-01.csv",
            ".s3-website-us-east-1.amazonaws.com",
            ".s3.us-west-2.amazonaws.com/key.txt",
            "140.82.112.6",
            "169.254.169.254",
            "v1.28.3-eks-4f4795d",
            "--region us-west-2",
            "api.github.com",
            "--username AWS --password-stdin",
        ],
    },
    Fixture {
        file: "infrastructure-session.txt",
        masked: &[
            "10.0.0.0/8",
            "sg-0123456789abcdef0",
            "sg-0fedcba9876543210",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc1234def567890",
            "i-0abc1234def567890",
            "172.31.16.5",
            "subnet-0123abcd4567ef890",
            "arn:aws:lambda:us-west-2:123456789012:function:my-function",
            "arn:aws:iam::123456789012:role/lambda-role",
            // Resource names, where their labels say what they are.
            "my-function",
            "deploy-key",
            "prod",
            "subnet-071f712345678e7c8",
            "sg-085912345678492fb",
            "0A1B2C3D4E5F60718293A4B5C6D7E8F9.gr7.us-west-2.eks.amazonaws.com",
            "subnet-0a1b2c3d",
            "vpc-0c1d2e3f",
            "oidc.eks.us-west-2.amazonaws.com/id/0A1B2C3D4E5F60718293A4B5C6D7E8F9",
            "my-alb-1234567890.us-east-1.elb.amazonaws.com",
            "Z35SXDOTRQ7X7K",
            "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef",
            "10.0.5.99",
            "111111111111",
            "210987654321",
            "arn:aws:iam::210987654321:role/deploy",
            "eipalloc-0123456789abcdef0",
            // An Elastic IP, labelled PublicIp.
            "198.51.100.7",
            "eipassoc-0123456789abcdef0",
            "123456789012",
            "arn:aws:sts::123456789012:assumed-role/dev/jane",
            "arn:aws:s3:::acme-secure/report.pdf",
            "i-0a1b2c3d4e5f6a7b8",
        ],
        kept: &[
            "\"850ca006-2d98-4ff4-86db-8766e9d32fe9\"",
            "YFgDgEKG3ugvF1+pX64gV6tu9qNuIYNUdgJm8nCxsm4=",
            "region = eu-west-1",
            "(known after apply)",
        ],
    },
    Fixture {
        // Written for the second outside review: the shapes it looked for next.
        file: "services-session.txt",
        masked: &[
            "AROA3XFRBF535PLBIFPI4",
            "alice@corp.example",
            "210987654321",
            "orders-api-prod",
            "54.210.167.204",
            "orders-web-sg",
            "sg-0a9b8c7d6e5f40312",
            "203.0.113.0/24",
            "2001:db8:1234::/48",
            "clickstream-prod",
            "E2QWRUHAPOMQZL",
            "d111111abcdef8.cloudfront.net",
            "/prod/orders/api-key",
            "prod/orders/db",
            "Tr0ub4dor&3xyz!",
            "eyJwYXlsb2FkIjoiR3JkT0NYUkp4VnZPRXBsd3k3S0NiQjVxWm9wR3ZpT1c2bkdqSnhqYlRHMmdjTDlNUnRydUdPcGtMWDVFNk5qeW5vSDRjT1l0In0=",
            "789012345678",
            "7890 1234 5678",
            "checkout-prod",
            "checkout-api",
            "198.51.100.23",
            "acme-payroll-exports",
            "acme-tfstate-prod",
            "orders-primary",
            "S3cretPassw0rd!",
        ],
        kept: &[
            "0.0.0.0/0",
            "ec2-user@",
            "--force-new-deployment",
            "orders/terraform.tfstate",
            "password = getpass.getpass()",
            "password: str = \"\"",
            "--password-stdin",
            r#"\"engine\":\"postgres\""#,
            "\"Status\": \"ACTIVE\"",
        ],
    },
];

fn read(file: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/real-world/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_identifier_in_real_tool_output_is_masked_and_restored() {
    let engine = Engine::with_all_builtins();
    for fixture in FIXTURES {
        let text = read(fixture.file);
        let masked = mask_text(&engine, &text);
        let originals: Vec<&str> = masked.table.entries().iter().map(|e| e.original).collect();
        for wanted in fixture.masked {
            assert!(
                originals.contains(wanted),
                "{}: {wanted:?} was not masked:\n{}",
                fixture.file,
                masked.output
            );
        }
        for kept in fixture.kept {
            assert!(
                masked.output.contains(kept),
                "{}: {kept:?} should have been left alone:\n{}",
                fixture.file,
                masked.output
            );
        }
        let restorer = Restorer::new(&masked.table);
        assert_eq!(restorer.restore(&masked.output, Escaping::Raw), text);
    }
}

/// The same outputs as Claude Code sends them: a tool result inside a request body.
#[test]
fn real_tool_output_inside_a_request_is_masked_the_same_way() {
    let engine = Engine::with_all_builtins();
    for fixture in FIXTURES {
        let text = read(fixture.file);
        let body = serde_json::json!({
            "model": "claude-sonnet-4-5",
            "messages": [
                {"role": "user", "content": "look at this"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "cat out"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": text}
                ]}
            ]
        });
        let body = serde_json::to_vec(&body).expect("json");
        let (masked, _) = mask_json(&engine, &body).expect("valid body");
        let output = String::from_utf8(masked.output).expect("utf8");
        let sent: serde_json::Value = serde_json::from_str(&output).expect("still JSON");
        let sent_text = sent["messages"][2]["content"][0]["content"]
            .as_str()
            .expect("a string");
        let in_text = mask_text(&engine, &text);
        assert_eq!(sent_text, in_text.output, "{}", fixture.file);
    }
}
