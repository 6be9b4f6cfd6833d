"""Start moto_server for Examina's tests with three fixes applied to moto 5.2.1.

Usage: python3 launcher.py --host 127.0.0.1 --port 5000

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
   Unhandled, as Lambda does when a Go handler returns an error, so Retry and
   Catch on the error name can be exercised.

Exit status 3 means moto is not installed (pip install 'moto[server]').
"""

import argparse
import json
import sys
import uuid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()

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
    patch_lambda_errors(lambda_simple)

    # The configuration the tests need, also settable with POST /moto-api/config.
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
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


if __name__ == "__main__":
    main()
