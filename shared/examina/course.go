package examina

// Course identifies the university course whose exams are analysed.
type Course struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Language string `json:"language"`
}

// Exercise is one exam exercise (or fragment, or block of instructions) in file order.
// Position is its 0-based index in the course file and is the merge order.
type Exercise struct {
	ID       string `json:"id"`
	Number   string `json:"number"`
	Text     string `json:"text"`
	Page     int    `json:"page,omitempty"`
	Source   string `json:"source,omitempty"`
	Position int    `json:"position"`
}

// CourseFile is a validated course with its exercises in position order.
type CourseFile struct {
	Course    Course     `json:"course"`
	Exercises []Exercise `json:"exercises"`
}

// Previous returns the text of the exercise before position i, or "" for the first.
func (c CourseFile) Previous(i int) string {
	if i <= 0 || i > len(c.Exercises) {
		return ""
	}
	return c.Exercises[i-1].Text
}
