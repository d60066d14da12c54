var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults().AddCremaDEvaluationService();
var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
