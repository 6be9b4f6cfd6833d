package cloud

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/examina-dev/examina-serverless/shared/examina"
)

// SSMAPI is the part of *ssm.Client the key loader uses.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SecretsAPI is the part of *secretsmanager.Client the key loader uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// APIKey loads the provider's API key from an SSM SecureString parameter or a Secrets
// Manager secret the first time Get succeeds, and returns the cached value afterwards:
// once per cold start. A failed load is retried by the next Get. The key is never
// logged or put in an error message.
type APIKey struct {
	SSM       SSMAPI
	Secrets   SecretsAPI
	Parameter string // SSM parameter name (EXAMINA_API_KEY_PARAMETER)
	SecretID  string // Secrets Manager id (EXAMINA_API_KEY_SECRET)

	mu     sync.Mutex
	loaded bool
	value  string
	loads  int
}

// Get returns the key, "" when neither a parameter nor a secret is configured.
func (k *APIKey) Get(ctx context.Context) (string, error) {
	const op = "cloud.APIKey"
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.loaded {
		return k.value, nil
	}
	var v string
	switch {
	case k.Parameter != "":
		k.loads++
		out, err := k.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: &k.Parameter, WithDecryption: aws.Bool(true)})
		if err != nil {
			return "", examina.E(op, examina.KindTransient, "reading SSM parameter %s: %w", k.Parameter, err)
		}
		if out.Parameter != nil {
			v = aws.ToString(out.Parameter.Value)
		}
	case k.SecretID != "":
		k.loads++
		out, err := k.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &k.SecretID})
		if err != nil {
			return "", examina.E(op, examina.KindTransient, "reading secret %s: %w", k.SecretID, err)
		}
		v = aws.ToString(out.SecretString)
	}
	if (k.Parameter != "" || k.SecretID != "") && v == "" {
		return "", examina.E(op, examina.KindPermanent, "%s", fmt.Sprintf("the API key parameter or secret %s is empty", k.Parameter+k.SecretID))
	}
	k.loaded, k.value = true, v
	return v, nil
}

// Loads returns how many times the key was fetched (for tests: once per cold start).
func (k *APIKey) Loads() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.loads
}
