"""Transform a SAM template into CloudFormation, as `sam package` + the
AWS::Serverless transform do, with the SAM translator cfn-lint ships.

Usage: python3 transform.py TEMPLATE ARTIFACTS.json PARAMETERS.json > out.json
       python3 transform.py --list TEMPLATE > artifacts.json

ARTIFACTS.json maps a resource's logical id to {"Bucket": ..., "Key": ...}: the
uploaded code (CodeUri) or state machine definition (DefinitionUri) that replaces
the local path, as `sam package` replaces it. PARAMETERS.json holds the parameter
values. Exit status 3: the SAM translator is not installed (pip install cfn-lint).
"""

import json
import os
import sys


def main() -> None:
    if sys.argv[1] == "--list":
        list_artifacts(sys.argv[2])
        return
    template_path, artifacts_path, parameters_path = sys.argv[1:4]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        from samtranslator.model.exceptions import InvalidDocumentException
        from samtranslator.parser import parser
        from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader  # noqa: F401
        from samtranslator.translator.translator import Translator
        from samtranslator.yaml_helper import yaml_parse
    except ImportError as err:
        print(f"the SAM translator is not installed: {err}; pip install cfn-lint", file=sys.stderr)
        sys.exit(3)
    policies = managed_policies()

    with open(template_path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    with open(artifacts_path, encoding="utf-8") as f:
        artifacts = json.load(f)
    with open(parameters_path, encoding="utf-8") as f:
        parameters = json.load(f)

    for name, resource in template.get("Resources", {}).items():
        props = resource.get("Properties") or {}
        if name not in artifacts:
            continue
        loc = artifacts[name]
        if "CodeUri" in props:
            props["CodeUri"] = f"s3://{loc['Bucket']}/{loc['Key']}"
        if "DefinitionUri" in props:
            props["DefinitionUri"] = {"Bucket": loc["Bucket"], "Key": loc["Key"]}
    translator = Translator(managed_policy_map=policies, sam_parser=parser.Parser())
    try:
        out = translator.translate(sam_template=template, parameter_values=parameters, passthrough_metadata=True)
    except InvalidDocumentException as err:
        for cause in err.causes:
            print(f"{template_path}: {cause.message}", file=sys.stderr)
        sys.exit(1)
    json.dump(out, sys.stdout, default=str)


def list_artifacts(template_path: str) -> None:
    """Print the local artifacts `sam build` and `sam package` handle: each
    resource's CodeUri (with its Metadata.BuildMethod) or DefinitionUri."""
    from samtranslator.yaml_helper import yaml_parse

    with open(template_path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    out = {}
    for name, resource in template.get("Resources", {}).items():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "DefinitionUri"):
            uri = props.get(key)
            if isinstance(uri, str) and not uri.startswith("s3://"):
                out[name] = {
                    "Type": resource.get("Type"),
                    key: uri,
                    "BuildMethod": (resource.get("Metadata") or {}).get("BuildMethod", ""),
                }
    json.dump(out, sys.stdout)


def managed_policies():
    """The AWS managed policies' names and ARNs, from cfn-lint's copy of the list
    the SAM CLI uses (no call to IAM)."""
    try:
        from cfnlint.data import Serverless
        from cfnlint.helpers import load_resource

        return load_resource(Serverless, "ManagedPolicies.json")
    except ImportError:
        return {}


if __name__ == "__main__":
    main()
