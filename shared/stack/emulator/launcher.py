"""Start moto_server for Examina with fixes and, for the local stack, extensions.

Usage: python3 launcher.py --host 127.0.0.1 --port 5000 [--stack --invoker URL
       --code-dir DIR --credentials-file FILE]

Always applied (moto 5.2.1 bugs the tests meet):

1. moto issue 10077 (fixed upstream in 5.2.4): with execute_state_machine on,
   StartExecution deep-copies the state machine *including its executions* and,
   through its backend reference, every other state machine's; once an
   execution has run a Task or Map state it holds a thread lock and every later
   StartExecution answers 500 "cannot pickle '_thread.RLock'". We make
   executions and the backend shared, not copied, by deep copies.
2. StartExecution without a name names every execution "None": we give it a
   random name, as AWS does.
3. The docker-free Lambda stub never reports a function error. When a queued
   stub response is a Lambda runtime error document (a JSON object with
   "errorType" and "errorMessage"), we answer it with X-Amz-Function-Error:
   Unhandled, as Lambda does when a Go handler returns an error.

With --stack (the local deployment of template.yaml, shared/stack), every patch
listed in DEVELOPERS.md ("moto patches of the local stack") as S1..S18, each
marked below.

Exit status 3 means moto is not installed (pip install 'moto[server]').
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid

ACCOUNT = "123456789012"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--stack", action="store_true")
    parser.add_argument("--invoker", default="")
    parser.add_argument("--code-dir", default="")
    parser.add_argument("--credentials-file", default="")
    args = parser.parse_args()

    # Step Functions' service integrations call back into this server on MOTO_PORT.
    os.environ["MOTO_PORT"] = str(args.port)
    try:
        import moto
        from moto import server
        from moto.awslambda_simple import models as lambda_simple
        from moto.core.config import default_user_config
        from moto.stepfunctions.parser import models as sfn_models
    except ImportError as err:
        print(f"moto is not installed: {err}; pip install 'moto[server]'", file=sys.stderr)
        sys.exit(3)

    patch_deepcopy()
    patch_unnamed_executions(sfn_models)
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    if args.stack:
        Stack(args).apply()
    else:
        patch_lambda_errors(lambda_simple)
        default_user_config["lambda"] = {"use_docker": False}

    print(f"moto {moto.__version__} (patched) on {args.host}:{args.port}", file=sys.stderr, flush=True)
    server.main(["-H", args.host, "-p", str(args.port)])


def _share(self, memo):
    return self


def patch_deepcopy() -> None:
    """Deep copies of a state machine share, instead of copy, its executions and
    the backend it points back to (which holds every other state machine's
    executions): running executions hold thread locks that cannot be copied."""
    from moto.stepfunctions import models as base
    from moto.stepfunctions.parser.backend import execution as parser_execution

    base.Execution.__deepcopy__ = _share
    base.StepFunctionBackend.__deepcopy__ = _share
    parser_execution.Execution.__deepcopy__ = _share


def patch_unnamed_executions(sfn_models) -> None:
    backend = sfn_models.StepFunctionsParserBackend
    original = backend.start_execution

    def start_execution(self, state_machine_arn, name=None, *rest, **kwargs):
        if not name:
            name = str(uuid.uuid4())
        return original(self, state_machine_arn, name, *rest, **kwargs)

    backend.start_execution = start_execution


def patch_lambda_errors(lambda_simple) -> None:
    backend = lambda_simple.LambdaSimpleBackend
    original = backend.invoke

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        result = original(self, function_name, qualifier, body, headers, response_headers)
        try:
            doc = json.loads(result)
        except (TypeError, ValueError):
            return result
        if isinstance(doc, dict) and "errorType" in doc and "errorMessage" in doc:
            response_headers["x-amz-function-error"] = "Unhandled"
        return result

    backend.invoke = invoke


class Stack:
    """The patches of the local stack (DEVELOPERS.md, S1..S18)."""

    def __init__(self, args):
        self.args = args
        self.port = args.port
        self._creds = {}
        self._creds_lock = threading.Lock()

    def apply(self) -> None:
        from moto import settings

        self.admin_credentials()  # S1
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # IAM enforced from the first request
        self.iam_resources()  # S2
        self.lambda_invoke()  # S3
        self.s3_notifications_async()  # S4
        self.sqs_mappings_off()  # S5
        self.sfn_role_credentials()  # S6
        self.sfn_cloudformation()  # S7
        self.bucket_cloudformation()  # S8
        self.bucket_policy_cloudformation()  # S9
        self.http_api_cloudformation()  # S10
        self.no_value_in_lists()  # S11
        self.signature_of_empty_bodies()  # S12
        self.bucket_policy_conditions()  # S13
        self.role_policy_documents()  # S14
        self.iam_action_names()  # S15
        self.dynamodb_serialised()  # S16
        self.execution_names_unique()  # S17
        self.json_auth_errors()  # S18

    # S1: the account's administrator, the credentials of DIR/env.
    def admin_credentials(self) -> None:
        from moto.iam.models import iam_backends

        iam = iam_backends[ACCOUNT]["aws"]
        iam.create_user("us-east-1", "examina-stack-admin")
        iam.put_user_policy(
            "examina-stack-admin",
            "administrator",
            json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        )
        key = iam.create_access_key("examina-stack-admin")
        doc = {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}
        with open(self.args.credentials_file, "w", encoding="utf-8") as f:
            json.dump(doc, f)

    # S2: moto checks IAM policies against the request's resource only for S3 and SQS;
    # every other service is checked against "*", which no resource-scoped statement
    # matches. DynamoDB, Lambda and Step Functions requests name their resource here.
    def iam_resources(self) -> None:
        from moto.dynamodb.responses import DynamoHandler
        from moto.stepfunctions.responses import StepFunctionResponse

        def body_of(handler):
            body = handler.body
            if isinstance(body, dict):
                return body
            try:
                doc = json.loads(body or "{}")
            except (TypeError, ValueError):
                return {}
            return doc if isinstance(doc, dict) else {}

        def dynamo_resource(handler):
            body = body_of(handler)
            name = body.get("TableName")
            if not name and body.get("RequestItems"):
                name = sorted(body["RequestItems"])[0]
            if not name and body.get("TransactItems"):
                item = body["TransactItems"][0]
                name = next(iter(item.values())).get("TableName")
            if not name:
                return "*"
            if name.startswith("arn:"):
                return name
            return f"arn:aws:dynamodb:{handler.region}:{handler.current_account}:table/{name}"

        def sfn_resource(handler):
            body = body_of(handler)
            return body.get("stateMachineArn") or body.get("executionArn") or "*"

        DynamoHandler._determine_resource = dynamo_resource
        StepFunctionResponse._determine_resource = sfn_resource

    def role_credentials(self, role_arn: str, session: str) -> dict:
        """Credentials of role_arn from STS, as the Lambda and Step Functions
        services obtain them; cached for 45 minutes of their hour."""
        from moto.sts.models import sts_backends

        now = time.time()
        with self._creds_lock:
            cached = self._creds.get(role_arn)
            if cached and cached[0] > now:
                return cached[1]
            role = sts_backends[ACCOUNT]["aws"].assume_role(
                region_name="us-east-1",
                role_session_name=session[:64],
                role_arn=role_arn,
                policy=None,
                duration=3600,
                external_id=None,
            )
            creds = {
                "AccessKeyId": role.access_key_id,
                "SecretAccessKey": role.secret_access_key,
                "SessionToken": role.session_token,
            }
            self._creds[role_arn] = (now + 2700, creds)
            return creds

    # S3: every Lambda invocation (Invoke API, Step Functions tasks, S3 notifications,
    # the engine's SQS poller and API front) runs the deployed function in the
    # engine's RIE pool, with the deployed configuration and the role's credentials.
    def lambda_invoke(self) -> None:
        from moto.awslambda import models as lambda_models

        stack = self

        def invoke(fn, body, request_headers, response_headers):
            inv_type = request_headers.get("x-amz-invocation-type") or request_headers.get("X-Amz-Invocation-Type") or "RequestResponse"
            code = os.path.join(stack.args.code_dir, f"{fn.code_sha_256.replace('/', '_')}.zip")
            if not os.path.exists(code):
                tmp = f"{code}.{uuid.uuid4().hex}"
                with open(tmp, "wb") as f:
                    f.write(fn.code_bytes)
                os.replace(tmp, code)
            request = {
                "FunctionName": fn.function_name,
                "FunctionArn": fn.function_arn,
                "InvocationType": inv_type,
                "Payload": body if isinstance(body, str) else (body or b"").decode("utf-8"),
                "CodeSha256": fn.code_sha_256,
                "CodePath": code,
                "Handler": fn.handler,
                "Runtime": fn.run_time,
                "Environment": fn.environment_vars or {},
                "Timeout": int(fn.timeout),
                "MemorySize": int(fn.memory_size),
                "ReservedConcurrency": fn.reserved_concurrency,
                "Credentials": stack.role_credentials(fn.role, fn.function_name),
            }
            data = json.dumps(request).encode("utf-8")
            req = urllib.request.Request(stack.args.invoker, data=data, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=int(fn.timeout) + 120) as resp:
                answer = json.loads(resp.read())
            if answer.get("FunctionError"):
                response_headers["x-amz-function-error"] = answer["FunctionError"]
            payload = answer.get("Payload", "")
            if inv_type == "RequestResponse":
                return payload.encode("utf-8")
            return payload

        lambda_models.LambdaFunction.invoke = invoke

    # S4: S3 invokes Lambda asynchronously (InvocationType Event); moto calls it
    # synchronously inside PutObject. And moto's event lacks the object's versionId
    # (and sequencer), which S3 sends for a versioned bucket.
    def s3_notifications_async(self) -> None:
        from moto.s3 import notifications

        def invoke(account_id, event_body, fn_arn, region_name):
            try:
                from moto.awslambda.utils import get_backend

                func = get_backend(account_id, region_name).get_function(fn_arn)
                func.invoke(json.dumps(event_body), {"x-amz-invocation-type": "Event"}, {})
            except Exception as err:  # noqa: BLE001 - as moto: the upload succeeds regardless
                print(f"s3 notification to {fn_arn} not delivered: {err}", file=sys.stderr, flush=True)

        notifications._invoke_awslambda = invoke

        # S4 also: a versioned bucket's event names the object's version, as S3's does.
        original_event = notifications._get_s3_event

        def s3_event(event_name, bucket, key, notification_id):
            event = original_event(event_name, bucket, key, notification_id)
            version = getattr(key, "version_id", None)
            obj = event["Records"][0]["s3"]["object"]
            if bucket.is_versioned and version and version != "null":
                obj["versionId"] = version
            obj["sequencer"] = f"{int(time.time() * 1e9):016X}"
            return event

        notifications._get_s3_event = s3_event

    # S5: moto runs an SQS event source mapping synchronously inside SendMessage,
    # ignoring failures and concurrency; the engine's poller replaces it.
    def sqs_mappings_off(self) -> None:
        from moto.sqs import models as sqs_models

        class NoMappings(dict):
            def __setitem__(self, key, value):
                pass

        original = sqs_models.Queue.__init__

        def init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            self.lambda_event_source_mappings = NoMappings()

        sqs_models.Queue.__init__ = init

    # S6: Step Functions' service integrations call this server with fixed fake
    # keys; with IAM enforced they get the state machine's role, as on AWS.
    def sfn_role_credentials(self) -> None:
        import boto3
        from botocore.config import Config

        import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils  # noqa: F401
        import moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service  # noqa: F401
        import moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback  # noqa: F401
        import moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb  # noqa: F401
        import moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda  # noqa: F401
        import moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda  # noqa: F401

        stack = self

        def boto_client_for(region, service, state_credentials=None):
            role_arn = getattr(state_credentials, "role_arn", None)
            if not role_arn:
                raise RuntimeError("states: a service integration without the state machine's role")
            creds = stack.role_credentials(role_arn, "states")
            return boto3.client(
                service_name=service,
                region_name=region,
                endpoint_url=f"http://127.0.0.1:{stack.port}",
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                config=Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=60,
                    read_timeout=1000,
                ),
            )

        for name, module in list(sys.modules.items()):
            if name.startswith("moto.stepfunctions") and hasattr(module, "boto_client_for"):
                module.boto_client_for = boto_client_for

    # S7: AWS::StepFunctions::StateMachine: Definition, DefinitionS3Location and
    # DefinitionSubstitutions, created in the backend the API serves (moto's
    # CloudFormation creates state machines where execute_state_machine never sees them).
    def sfn_cloudformation(self) -> None:
        from moto.s3.models import s3_backends
        from moto.stepfunctions import models as sfn_models
        from moto.stepfunctions import responses as sfn_responses
        from moto.utilities.tagging_service import TaggingService

        def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            props = cloudformation_json["Properties"]
            name = props.get("StateMachineName", resource_name)
            definition = props.get("DefinitionString")
            if definition is None and "Definition" in props:
                definition = json.dumps(props["Definition"])
            if definition is None and "DefinitionS3Location" in props:
                loc = props["DefinitionS3Location"]
                obj = s3_backends[account_id]["aws"].get_object(loc["Bucket"], loc["Key"])
                definition = obj.value.decode("utf-8")
            for key, value in (props.get("DefinitionSubstitutions") or {}).items():
                definition = definition.replace("${" + key + "}", str(value))
            tags = [{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags", [])]
            backend = sfn_responses.get_backend(account_id, region_name)
            return backend.create_state_machine(name, definition, props.get("RoleArn", ""), tags=tags)

        def delete(cls, resource_name, cloudformation_json, account_id, region_name):
            pass

        def physical(sm):
            return sm.arn

        _ = TaggingService
        sfn_models.StateMachine.create_from_cloudformation_json = classmethod(create)
        sfn_models.StateMachine.delete_from_cloudformation_json = classmethod(delete)
        sfn_models.StateMachine.physical_resource_id = property(physical)

    # S8: AWS::S3::Bucket: NotificationConfiguration (LambdaConfigurations) and
    # VersioningConfiguration, which moto's CloudFormation ignores.
    def bucket_cloudformation(self) -> None:
        from moto.s3 import models as s3_models

        original = s3_models.FakeBucket.create_from_cloudformation_json.__func__

        def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            bucket = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
            props = cloudformation_json.get("Properties", {})
            backend = s3_models.s3_backends[account_id]["aws"]
            versioning = props.get("VersioningConfiguration")
            if versioning:
                backend.put_bucket_versioning(bucket.name, versioning["Status"])
            notification = props.get("NotificationConfiguration") or {}
            functions = []
            for conf in notification.get("LambdaConfigurations", []):
                item = {"CloudFunction": conf["Function"], "Event": [conf["Event"]], "Id": str(uuid.uuid4())}
                rules = (conf.get("Filter") or {}).get("S3Key", {}).get("Rules")
                if rules:
                    item["Filter"] = {"S3Key": {"FilterRule": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}}
                functions.append(item)
            if functions:
                bucket.set_notification_configuration({"CloudFunctionConfiguration": functions})
            return bucket

        s3_models.FakeBucket.create_from_cloudformation_json = classmethod(create)

    # S9: AWS::S3::BucketPolicy, which moto's CloudFormation lacks. (moto stores the
    # policy but does not evaluate bucket policies.)
    def bucket_policy_cloudformation(self) -> None:
        from moto.core.common_models import CloudFormationModel
        from moto.s3.models import s3_backends

        class BucketPolicy(CloudFormationModel):
            __module__ = "moto.s3.examina"  # moto's model metaclass names the service from it

            def __init__(self, bucket):
                self.bucket = bucket

            @staticmethod
            def cloudformation_type():
                return "AWS::S3::BucketPolicy"

            @staticmethod
            def cloudformation_name_type():
                return ""

            @property
            def physical_resource_id(self):
                return self.bucket

            @classmethod
            def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
                props = cloudformation_json["Properties"]
                policy = json.dumps(props["PolicyDocument"]).encode("utf-8")
                s3_backends[account_id]["aws"].put_bucket_policy(props["Bucket"], policy)
                return cls(props["Bucket"])

            @classmethod
            def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
                pass

        _register(BucketPolicy)

    # S10: AWS::ApiGatewayV2::Api (from its OpenAPI Body) and AWS::ApiGatewayV2::Stage,
    # which moto's CloudFormation lacks; the engine's API front serves their routes.
    def http_api_cloudformation(self) -> None:
        from moto.apigatewayv2.models import apigatewayv2_backends
        from moto.core.common_models import CloudFormationModel

        class HttpApi(CloudFormationModel):
            __module__ = "moto.apigatewayv2.examina"

            def __init__(self, api):
                self.api = api

            @staticmethod
            def cloudformation_type():
                return "AWS::ApiGatewayV2::Api"

            @staticmethod
            def cloudformation_name_type():
                return "Name"

            @property
            def physical_resource_id(self):
                return self.api.api_id

            @classmethod
            def has_cfn_attr(cls, attr):
                return attr in ["ApiEndpoint", "ApiId"]

            def get_cfn_attribute(self, attr):
                if attr == "ApiId":
                    return self.api.api_id
                return f"https://{self.api.api_id}.execute-api.us-east-1.amazonaws.com"

            @classmethod
            def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
                props = cloudformation_json["Properties"]
                body = props.get("Body") or {}
                backend = apigatewayv2_backends[account_id][region_name]
                api = backend.create_api(
                    api_key_selection_expression=None,
                    cors_configuration=None,
                    description=props.get("Description"),
                    disable_schema_validation=None,
                    disable_execute_api_endpoint=None,
                    name=str(body.get("info", {}).get("title") or props.get("Name") or resource_name),
                    protocol_type="HTTP",
                    route_selection_expression=None,
                    tags={},
                    version=None,
                )
                api.import_api(json.dumps(body), False)
                # moto's import keeps no authorizer: record each route's security.
                for path, methods in body.get("paths", {}).items():
                    for method, details in methods.items():
                        key = f"{method.upper()} {path}"
                        for route in api.routes.values():
                            if route.route_key == key and any("AWS_IAM" in s for s in details.get("security", [])):
                                route.authorization_type = "AWS_IAM"
                return cls(api)

            @classmethod
            def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
                pass

        class HttpApiStage(CloudFormationModel):
            __module__ = "moto.apigatewayv2.examina"

            def __init__(self, name):
                self.name = name

            @staticmethod
            def cloudformation_type():
                return "AWS::ApiGatewayV2::Stage"

            @staticmethod
            def cloudformation_name_type():
                return "StageName"

            @property
            def physical_resource_id(self):
                return self.name

            @classmethod
            def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
                props = cloudformation_json["Properties"]
                backend = apigatewayv2_backends[account_id][region_name]
                backend.create_stage(props["ApiId"], {"stageName": props["StageName"], "autoDeploy": props.get("AutoDeploy", False)})
                return cls(props["StageName"])

            @classmethod
            def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
                pass

        _register(HttpApi)
        _register(HttpApiStage)


def _no_value_in_lists(self) -> None:
    from moto.cloudformation import parsing

    original = parsing.clean_json

    def clean_json(resource_json, resources_map):
        out = original(resource_json, resources_map)
        if isinstance(resource_json, list) and isinstance(out, list):
            return [item for item in out if item is not None]
        return out

    parsing.clean_json = clean_json


def canonical_query(query: str) -> str:
    """The query as SigV4 canonicalises it: every key and value percent-encoded
    (unreserved characters kept), so "delimiter=/" is signed as "delimiter=%2F"."""
    if not query:
        return query
    pairs = []
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        q = lambda x: urllib.parse.quote(urllib.parse.unquote(x), safe="-_.~")
        pairs.append(q(key) + "=" + q(value))
    return "&".join(pairs)


def _signature_of_empty_bodies(self) -> None:
    from botocore.awsrequest import AWSRequest
    from moto.iam import access_control

    def create_aws_request(req):
        signed = req._get_string_between("SignedHeaders=", ",", req._headers["Authorization"]).split(";")
        headers = req._create_headers_for_aws_request(signed, req._headers)
        body = req._body or (b"" if req._method in ("GET", "HEAD", "DELETE") else req._data)
        path, sep, query = req._path.partition("?")
        url = urllib.parse.quote(urllib.parse.unquote(path), safe="/~") + sep + canonical_query(query)
        request = AWSRequest(method=req._method, url=url, data=body, headers=headers)
        request.context["timestamp"] = headers["X-Amz-Date"]
        return request

    access_control.IAMRequestBase._create_aws_request = create_aws_request


def _bucket_policy_conditions(self) -> None:
    from moto.iam import policy_conditions
    from moto.iam.access_control import IAMPolicy
    from moto.s3 import models as s3_models

    def bool_equals(expected, actual):
        values = expected if isinstance(expected, list) else [expected]
        return str(actual).lower() in [str(v).lower() for v in values]

    policy_conditions.CONDITION_OPERATIONS["Bool"] = bool_equals

    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(statement, action, resource="*", principal=None, incoming_condition_values=None):
        # A statement whose condition does not hold does not apply (moto: DENIED).
        if statement._statement.get("Condition") and not statement._check_conditions(incoming_condition_values):
            return PermissionResult.NEUTRAL
        return original(statement, action, resource, principal, incoming_condition_values)

    IAMPolicyStatement.is_action_permitted = is_action_permitted

    def get_permission(bucket, action, resource):
        from moto.iam.access_control import PermissionResult

        if bucket.policy is None:
            return PermissionResult.NEUTRAL
        return IAMPolicy(bucket.policy.decode()).is_action_permitted(action, resource, None, {"aws:SecureTransport": "true"})

    s3_models.FakeBucket.get_permission = get_permission


def _role_policy_documents(self) -> None:
    from moto.iam import access_control

    original = access_control.IAMPolicy.__init__

    def init(policy, document):
        if isinstance(document, dict) and "Statement" in document:
            document = json.dumps(document)
        original(policy, document)

    access_control.IAMPolicy.__init__ = init


def _iam_action_names(self) -> None:
    import re

    from moto.awslambda.responses import LambdaResponse
    from moto.iam import access_control

    renamed = {
        "lambda:Invoke": "lambda:InvokeFunction",
        "sqs:SendMessageBatch": "sqs:SendMessage",
        "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    }
    original = access_control.IAMRequestBase.__init__

    def init(req, *args, **kwargs):
        original(req, *args, **kwargs)
        req._action = renamed.get(req._action, req._action)

    access_control.IAMRequestBase.__init__ = init

    # DynamoDB transactions have no IAM action of their own: each item is
    # authorised as its operation (PutItem, UpdateItem, DeleteItem,
    # ConditionCheckItem, GetItem) on its table.
    item_actions = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
    check = access_control.IAMRequestBase.check_action_permitted

    def check_action_permitted(req, resource):
        if req._action not in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"):
            return check(req, resource)
        try:
            items = json.loads(req._body or b"{}").get("TransactItems", [])
        except ValueError:
            items = []
        action = req._action
        try:
            for item in items:
                for kind, op in item.items():
                    table = op.get("TableName", "*")
                    arn = table if table.startswith("arn:") else f"arn:aws:dynamodb:{req._region}:{req.account_id}:table/{table}"
                    req._action = "dynamodb:" + item_actions.get(kind, kind)
                    check(req, arn)
        finally:
            req._action = action

    access_control.IAMRequestBase.check_action_permitted = check_action_permitted

    def lambda_resource(handler):
        path = urllib.parse.unquote(urllib.parse.urlparse(handler.uri).path)
        m = re.search(r"/functions/([^/]+)", path)
        if not m:
            return "*"
        name = m.group(1)
        if name.startswith("arn:"):
            return name
        return f"arn:aws:lambda:{handler.region}:{handler.current_account}:function:{name}"

    LambdaResponse._determine_resource = lambda_resource


def _dynamodb_serialised(self) -> None:
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(handler):
        with lock:
            return original(handler)

    DynamoHandler.call_action = call_action


def _execution_names_unique(self) -> None:
    from moto.stepfunctions.exceptions import ExecutionAlreadyExists
    from moto.stepfunctions.parser import models as sfn_models

    backend = sfn_models.StepFunctionsParserBackend
    original = backend.start_execution

    def start_execution(self, state_machine_arn, name=None, execution_input=None, *rest, **kwargs):
        if name:
            for execution in self._get_executions():
                if execution.name != name or not execution.exec_arn.startswith(state_machine_arn.replace(":stateMachine:", ":execution:") + ":"):
                    continue
                same_input = json.loads(execution_input or "{}") == execution.input_data
                if same_input and str(getattr(execution.exec_status, "value", execution.exec_status)) == "RUNNING":
                    return execution
                raise ExecutionAlreadyExists("Execution Already Exists: '" + execution.exec_arn + "'")
        return original(self, state_machine_arn, name, execution_input, *rest, **kwargs)

    backend.start_execution = start_execution


def _json_auth_errors(self) -> None:
    import re

    from moto.dynamodb.responses import DynamoHandler
    from moto.stepfunctions.responses import StepFunctionResponse

    def wrap(cls, content_type):
        original = cls.call_action

        def call_action(handler):
            status, headers, body = original(handler)
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
            if status in (400, 403) and text.lstrip().startswith("<"):
                code = re.search(r"<Code>(.*?)</Code>", text)
                message = re.search(r"<Message>(.*?)</Message>", text, re.S)
                code = code.group(1) if code else "AccessDenied"
                if code == "AccessDenied":
                    code = "AccessDeniedException"
                doc = {"__type": f"com.amazon.coral.service#{code}", "message": message.group(1) if message else text}
                headers = dict(headers)
                headers["Content-Type"] = content_type
                headers["x-amzn-ErrorType"] = code
                body = json.dumps(doc)
                headers["Content-Length"] = str(len(body))
            return status, headers, body

        cls.call_action = call_action

    wrap(DynamoHandler, "application/x-amz-json-1.0")
    wrap(StepFunctionResponse, "application/x-amz-json-1.0")


# S18: moto answers a request IAM denies with an XML error document even for the
# JSON protocols: the SDKs of DynamoDB and Step Functions cannot read it and the
# function logs "deserialization failed" instead of AccessDeniedException with
# IAM's message. The error is sent as those services send it.
Stack.json_auth_errors = _json_auth_errors


# S17: StartExecution with the name of a finished execution starts a second one
# (moto looks for the name among attributes the parser's executions lack); on AWS
# a Standard workflow's execution names are unique: ExecutionAlreadyExists, or
# the running execution when the input is the same.
Stack.execution_names_unique = _execution_names_unique


# S16: moto's DynamoDB is not safe for concurrent requests: TransactWriteItems
# deep-copies tables while other threads write them ("dictionary changed size
# during iteration", a 500). DynamoDB requests are served one at a time.
Stack.dynamodb_serialised = _dynamodb_serialised


# S15: moto authorises an operation under its API name, not its IAM action
# (lambda:Invoke instead of lambda:InvokeFunction; SQS batch operations are
# authorised as their single-message actions, DynamoDB transactions item by item
# as their operations), and Lambda requests against "*".
Stack.iam_action_names = _iam_action_names


# S14: a role created by CloudFormation keeps its inline policies as objects, which
# moto's IAM evaluation cannot read (KeyError 'policy_document', a 500 on every
# request signed with the role's credentials): they are read as documents.
Stack.role_policy_documents = _role_policy_documents


# S13: moto evaluates a bucket policy's Deny statements but ignores every condition
# operator except StringEquals, so the template's DenyInsecureTransport (Bool
# aws:SecureTransport false) denies every request; and a statement whose condition
# does not hold counts as an explicit Deny. Bool is evaluated, a statement whose
# condition fails does not apply (as IAM's evaluation logic says), and requests
# count as TLS: the emulator's plain-HTTP endpoint stands in for AWS's HTTPS ones.
Stack.bucket_policy_conditions = _bucket_policy_conditions


# S12: moto verifies a signature over `body or data`: a GET with an empty body (every
# Lambda and API Gateway list/get) is checked against a hash of its headers and
# fails with SignatureDoesNotMatch. A GET, HEAD or DELETE signs its (empty) body.
# And the path is checked decoded: a function ARN in the path (Step Functions'
# lambda:invoke) never matches; it is checked as sent, percent-encoded. And the query
# is checked as received, not canonicalised: a value with "/" (`aws s3 ls`, whose
# delimiter is "/") fails; keys and values are percent-encoded as SigV4 does.
Stack.signature_of_empty_bodies = _signature_of_empty_bodies


# S11: `!If [cond, x, !Ref AWS::NoValue]` inside a list removes the element in
# CloudFormation; moto leaves a null there (and IAM roles fail on it).
Stack.no_value_in_lists = _no_value_in_lists


def _register(model) -> None:
    from moto.cloudformation import parsing

    parsing.get_model_map()[model.cloudformation_type()] = model


if __name__ == "__main__":
    main()
