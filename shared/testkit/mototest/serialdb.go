package mototest

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/examina-dev/examina-serverless/shared/dynamo"
)

// SerialDynamoDB makes one DynamoDB request to moto at a time. moto (5.2.1) does not
// serialise concurrent requests on one item: two transactions can both pass
// attribute_not_exists and two ADDs can lose an update, which DynamoDB's serializable
// transactions and atomic updates never allow; and a read of a missing partition
// inserts it into moto's table (a defaultdict), so a transaction copying the table at
// that moment fails with a 500. Tests of concurrent callers go through this lock so
// that they test the caller's logic, not moto's locking.
type SerialDynamoDB struct {
	mu  *sync.Mutex
	api dynamo.API
}

// NewSerialDynamoDB returns api (a *dynamodb.Client, or a wrapper of one) behind mu:
// every request through it, and through any other SerialDynamoDB given the same mu,
// holds mu for its whole round trip. The result is itself a dynamo.API. (mototest
// imports shared/dynamo for that interface, so dynamo's own tests that use mototest
// must stay in the external package dynamo_test.)
func NewSerialDynamoDB(api dynamo.API, mu *sync.Mutex) *SerialDynamoDB {
	return &SerialDynamoDB{mu: mu, api: api}
}

// GetItem calls the wrapped GetItem holding the lock.
func (s *SerialDynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.api.GetItem(ctx, in, o...)
}

// PutItem calls the wrapped PutItem holding the lock.
func (s *SerialDynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.api.PutItem(ctx, in, o...)
}

// UpdateItem calls the wrapped UpdateItem holding the lock.
func (s *SerialDynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.api.UpdateItem(ctx, in, o...)
}

// Query calls the wrapped Query holding the lock.
func (s *SerialDynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.api.Query(ctx, in, o...)
}

// Scan calls the wrapped Scan holding the lock.
func (s *SerialDynamoDB) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.api.Scan(ctx, in, o...)
}

// BatchGetItem calls the wrapped BatchGetItem holding the lock.
func (s *SerialDynamoDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.api.BatchGetItem(ctx, in, o...)
}

// BatchWriteItem calls the wrapped BatchWriteItem holding the lock.
func (s *SerialDynamoDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.api.BatchWriteItem(ctx, in, o...)
}

// TransactWriteItems calls the wrapped TransactWriteItems holding the lock.
func (s *SerialDynamoDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.api.TransactWriteItems(ctx, in, o...)
}
