package fleetgate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoAPI is the part of the DynamoDB client the budget uses (*dynamodb.Client).
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// SortKey is the budget item's sort key; its partition key is Key(...).
const SortKey = "BUDGET"

// DynamoTable keeps budgets in a DynamoDB table with string keys PK and SK (the
// stack's table) and TTL attribute expires_at.
type DynamoTable struct {
	api   DynamoAPI
	table string
}

// NewDynamoTable returns the budget table over api and table.
func NewDynamoTable(api DynamoAPI, table string) *DynamoTable {
	return &DynamoTable{api: api, table: table}
}

func (d *DynamoTable) key(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": s(k), "SK": s(SortKey)}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// Get reads the budget (strongly consistent).
func (d *DynamoTable) Get(ctx context.Context, key string) (State, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &d.table, Key: d.key(key), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return State{}, err
	}
	return decode(out.Item)
}

// update runs one UpdateItem; on a failed condition it returns ok false and the item
// DynamoDB returned with the failure.
func (d *DynamoTable) update(ctx context.Context, key, update, cond string, names map[string]string, values map[string]types.AttributeValue, rv types.ReturnValue) (map[string]types.AttributeValue, bool, error) {
	in := &dynamodb.UpdateItemInput{TableName: &d.table, Key: d.key(key), UpdateExpression: &update,
		ExpressionAttributeValues: values, ReturnValues: rv,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}
	if cond != "" {
		in.ConditionExpression = &cond
	}
	if len(names) > 0 {
		in.ExpressionAttributeNames = names
	}
	out, err := d.api.UpdateItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return out.Attributes, true, nil
}

const holdFree = "(attribute_not_exists(paused_until) OR paused_until <= :now)"

// FastBook implements Table.
func (d *DynamoTable) FastBook(ctx context.Context, key string, op FastBook) (State, bool, error) {
	values := map[string]types.AttributeValue{":r": n(op.Rtat), ":t": n(op.Ttat), ":ttl": n(op.ExpiresAt), ":ceil": n(op.Ceil),
		":rf": n(op.RFloor), ":tf": n(op.TFloor), ":clim": n(op.Clim), ":now": n(op.Now)}
	update := "ADD rtat :r, ttat :t SET expires_at = :ttl"
	cond := "attribute_exists(PK) AND rtat >= ttat AND rtat BETWEEN :rf AND :ceil AND ttat BETWEEN :tf AND :ceil AND climit = :clim AND " + holdFree
	if op.Anchor {
		// The token timeline is the later: the slot is its end, and the request
		// timeline restarts one interval after it (update operands are the old values).
		update = "ADD ttat :t SET rtat = ttat + :r, expires_at = :ttl"
		cond = "attribute_exists(PK) AND ttat > rtat AND ttat BETWEEN :tf AND :ceil AND climit = :clim AND " + holdFree
		delete(values, ":rf")
	}
	var names map[string]string
	if op.Lease != "" {
		update += ", leases.#l = :lexp"
		cond += " AND size(leases) < :clim"
		names = map[string]string{"#l": op.Lease}
		values[":lexp"] = n(op.LeaseExp)
	}
	item, ok, err := d.update(ctx, key, update, cond, names, values, types.ReturnValueAllOld)
	if err != nil {
		return State{}, false, err
	}
	st, err := decode(item)
	return st, ok, err
}

// CASBook implements Table.
func (d *DynamoTable) CASBook(ctx context.Context, key string, op CASBook) (State, bool, error) {
	values := map[string]types.AttributeValue{":r": n(op.Rtat), ":t": n(op.Ttat), ":ttl": n(op.ExpiresAt)}
	names := map[string]string{}
	var update, cond string
	if !op.Old.Exists {
		leases := map[string]types.AttributeValue{}
		if op.Lease != "" {
			leases[op.Lease] = n(op.LeaseExp)
		}
		update = "SET rtat = :r, ttat = :t, expires_at = :ttl, climit = :clim, cgen = :zero, streak = :zero, used_tokens = :zero, est_tokens = :zero, settled = :zero, leases = :m"
		cond = "attribute_not_exists(PK)"
		values[":clim"], values[":zero"], values[":m"] = n(op.Clim), n(0), &types.AttributeValueMemberM{Value: leases}
	} else {
		update = "SET rtat = :r, ttat = :t, expires_at = :ttl"
		cond = "rtat = :or AND ttat = :ot AND climit = :oc"
		values[":or"], values[":ot"], values[":oc"] = n(op.Old.Rtat), n(op.Old.Ttat), n(op.Old.Clim)
		if op.Old.Hold == 0 {
			cond += " AND attribute_not_exists(paused_until)"
		} else {
			cond += " AND paused_until = :oh"
			values[":oh"] = n(op.Old.Hold)
		}
		if op.Lease != "" {
			update += ", leases.#l = :lexp"
			names["#l"] = op.Lease
			values[":lexp"] = n(op.LeaseExp)
		}
		var rm []string
		for i, id := range op.Expired {
			if id == op.Lease {
				continue
			}
			k := fmt.Sprintf("#e%d", i)
			names[k] = id
			rm = append(rm, "leases."+k)
		}
		if len(rm) > 0 {
			update += " REMOVE " + strings.Join(rm, ", ")
		}
	}
	item, ok, err := d.update(ctx, key, update, cond, names, values, types.ReturnValueNone)
	if err != nil || ok {
		return State{}, ok, err
	}
	st, err := decode(item)
	return st, false, err
}

// Settle implements Table.
func (d *DynamoTable) Settle(ctx context.Context, key string, op Settle) (State, error) {
	update := "ADD ttat :dt, streak :s, used_tokens :u, est_tokens :e, settled :n"
	values := map[string]types.AttributeValue{":dt": n(op.TtatDelta), ":s": n(op.Streak), ":u": n(op.Used), ":e": n(op.Est), ":n": n(op.Settled)}
	if op.SpareUntil > 0 {
		update += ", spares :one SET spare_until = :su"
		values[":one"], values[":su"] = n(1), n(op.SpareUntil)
	}
	var names map[string]string
	if op.Lease != "" {
		update += " REMOVE leases.#l"
		names = map[string]string{"#l": op.Lease}
	}
	item, ok, err := d.update(ctx, key, update, "attribute_exists(PK)", names, values, types.ReturnValueAllNew)
	if err != nil {
		return State{}, err
	}
	if !ok {
		return State{}, errors.New("fleetgate: settling: no budget item")
	}
	return decode(item)
}

// ClaimSpare implements Table.
func (d *DynamoTable) ClaimSpare(ctx context.Context, key string, op ClaimSpare) (State, bool, error) {
	update := "ADD spares :minus"
	cond := "spares > :zero AND spare_until >= :now"
	values := map[string]types.AttributeValue{":minus": n(-1), ":zero": n(0), ":now": n(op.Now)}
	var names map[string]string
	if op.Lease != "" {
		update += " SET leases.#l = :lexp"
		cond += " AND size(leases) < :clim"
		names = map[string]string{"#l": op.Lease}
		values[":lexp"], values[":clim"] = n(op.LeaseExp), n(op.Clim)
	}
	item, ok, err := d.update(ctx, key, update, cond, names, values, types.ReturnValueAllOld)
	if err != nil {
		return State{}, false, err
	}
	st, err := decode(item)
	return st, ok, err
}

// SetLimit implements Table.
func (d *DynamoTable) SetLimit(ctx context.Context, key string, gen, old, to int64, bump bool) (bool, error) {
	values := map[string]types.AttributeValue{":g": n(gen), ":to": n(to), ":zero": n(0)}
	update, cond := "SET climit = :to, streak = :zero", "cgen = :g"
	if bump {
		update += " ADD cgen :one"
		values[":one"] = n(1)
	} else {
		cond += " AND climit = :old AND streak >= :old"
		values[":old"] = n(old)
	}
	_, ok, err := d.update(ctx, key, update, cond, nil, values, types.ReturnValueNone)
	return ok, err
}

// Hold implements Table.
func (d *DynamoTable) Hold(ctx context.Context, key string, until int64) error {
	_, _, err := d.update(ctx, key, "SET paused_until = :u", "attribute_exists(PK) AND (attribute_not_exists(paused_until) OR paused_until < :u)", nil,
		map[string]types.AttributeValue{":u": n(until)}, types.ReturnValueNone)
	return err
}

// RemoveLease implements Table.
func (d *DynamoTable) RemoveLease(ctx context.Context, key, lease string) error {
	_, _, err := d.update(ctx, key, "REMOVE leases.#l", "attribute_exists(PK)", map[string]string{"#l": lease}, nil, types.ReturnValueNone)
	return err
}

// decode reads a budget item (nil or empty: no item).
func decode(item map[string]types.AttributeValue) (State, error) {
	if len(item) == 0 {
		return State{}, nil
	}
	st := State{Exists: true, Leases: map[string]int64{}}
	num := func(name string) (int64, error) {
		v, ok := item[name].(*types.AttributeValueMemberN)
		if !ok {
			return 0, nil
		}
		x, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("fleetgate: budget attribute %s = %q: %w", name, v.Value, err)
		}
		return x, nil
	}
	for name, dst := range map[string]*int64{"rtat": &st.Rtat, "ttat": &st.Ttat, "paused_until": &st.Hold, "climit": &st.Clim,
		"cgen": &st.Gen, "streak": &st.Streak, "used_tokens": &st.Used, "est_tokens": &st.Est, "settled": &st.Settled,
		"spares": &st.Spares, "spare_until": &st.SpareUntil} {
		v, err := num(name)
		if err != nil {
			return State{}, err
		}
		*dst = v
	}
	if m, ok := item["leases"].(*types.AttributeValueMemberM); ok {
		for id, v := range m.Value {
			if nv, ok := v.(*types.AttributeValueMemberN); ok {
				x, err := strconv.ParseInt(nv.Value, 10, 64)
				if err != nil {
					return State{}, fmt.Errorf("fleetgate: lease %s = %q: %w", id, nv.Value, err)
				}
				st.Leases[id] = x
			}
		}
	}
	return st, nil
}
